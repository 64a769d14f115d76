"""The GAN engine shared by the methods: training state, the generic G/D step with phases and frozen networks, the chunked inpainter."""
