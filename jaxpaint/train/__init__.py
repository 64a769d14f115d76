"""The shared trainer: state (state.py), the loop (loop.py), checkpoints (checkpoint.py), mesh (mesh.py)."""
