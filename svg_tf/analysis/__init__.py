"""Analyses behind the paper's figures 5 (post-collision trajectories) and 6 (the learned
prior's sigma at collisions), for SM-MNIST runs."""
