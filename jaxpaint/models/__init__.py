"""Network architectures shared by methods and evaluators."""
