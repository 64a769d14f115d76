"""Array operations shared by methods and metrics: SSIM kernels and the Poisson solver."""
