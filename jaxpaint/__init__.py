"""jaxpaint: semantic inpainting of images of people in JAX/Flax."""

__version__ = "0.1.0"
