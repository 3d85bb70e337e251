"""Unpacking image layers into snapshots: once per chain ID, verified, safe under concurrency.

Each missing layer is applied into a temporary directory beside the snapshots (a copy of
the parent's tree for the copy driver, an empty dir for overlay), its uncompressed digest
is checked against the image's diff ID, and only then is it published under a row. Two
processes unpacking one layer serialize on a per-chain lock; the second finds it done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import InvalidArgument
from dockyard.store.locking import file_lock

if TYPE_CHECKING:
    from dockyard.image import Image
    from dockyard.store.snapshots import Snapshots


def ensure_unpacked(snapshots: Snapshots, image: Image) -> str | None:
    """Unpack each of `image`'s layers not unpacked yet; the top layer's chain ID (None: none)."""
    from dockyard.store.snapshots import chain_id

    diff_ids = image.diff_ids
    layers = image.layers
    if len(diff_ids) != len(layers):
        raise InvalidArgument(
            f"image {image.id} has {len(layers)} layers but {len(diff_ids)} diff IDs",
            hint="the image is corrupt; pull or build it again",
        )
    parent: str | None = None
    for desc, diff_id in zip(layers, diff_ids, strict=True):
        chain = chain_id(parent, diff_id)
        if not snapshots.has(chain):
            with image.open_layer(desc) as stream:
                unpack_layer(snapshots, stream, diff_id, parent)
        parent = chain
    return parent


def unpack_layer(snapshots: Snapshots, stream: BinaryIO, diff_id: str, parent: str | None) -> str:
    """Unpack one layer tar (gzip, zstd or plain) on top of committed `parent`; its chain ID."""
    from dockyard.store.snapshots import chain_id, rmtree

    chain = chain_id(parent, diff_id)
    if snapshots.has(chain):
        return chain
    if parent is not None:
        snapshots.need(parent, "committed")
    with file_lock(snapshots.lock_path(chain)):
        if snapshots.has(chain):
            return chain
        tmp = snapshots.tmp_dir("unpack-", chain)
        try:
            fs = tmp / "fs"
            snapshots.seed(fs, parent)
            try:
                from dockyard.image.layer import apply_layer  # lazily: `run` never needs it

                result = apply_layer(stream, fs, overlay=snapshots.driver == "overlay")
            except InvalidArgument as exc:
                raise InvalidArgument(f"layer {diff_id}: {exc.message}", hint=exc.hint) from exc
            if result.diff_id != diff_id:
                raise InvalidArgument(
                    f"layer {diff_id}: its content has digest {result.diff_id}",
                    hint="the layer blob is corrupt; pull or load the image again",
                )
            snapshots.publish(tmp, chain, "committed", parent, diff_id, result.size)
        except BaseException:
            rmtree(tmp)
            raise
    return chain
