"""Fusion of a binary DGCNN into our bit-domain custom ops (``convert --fuse``)."""
