"""The local store: blobs, image names, snapshots and (later) containers under one root."""
