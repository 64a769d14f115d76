"""Evaluation metrics: image reconstruction (image.py) and pose (pose.py)."""
