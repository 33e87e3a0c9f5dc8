"""Cases for ops/movement.py."""
import numpy as np

import autocompyute as ac
from op_cases import Case, U


_NP_PAD = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad(x, widths, mode, value=0.0):
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x, widths, mode=_NP_PAD[mode], **kw)


def _split(x, sizes, axis):
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


CASES = [
    Case("reshape", lambda x: x.reshape(4, -1), (U(2, 3, 2),), lambda x: x.reshape(4, -1)),
    Case("reshape_tuple", lambda x: x.reshape((3, 2, 2)) * x.reshape(3, 4).reshape(3, 2, 2), (U(2, 6),),
         lambda x: x.reshape(3, 2, 2) ** 2),
    Case("view", lambda x: x.view(3) * x.view(1, 3, 1)[0], (U(1, 3),), lambda x: x.reshape(3) * x.reshape(3, 1)),
    Case("permute", lambda x: x.permute(2, 0, 1), (U(2, 3, 4),), lambda x: x.transpose(2, 0, 1)),
    Case("permute_neg_dims", lambda x: x.permute((-1, -3, -2)), (U(2, 3, 4),), lambda x: x.transpose(2, 0, 1)),
    Case("transpose", lambda x: x.transpose(0, -1), (U(2, 3, 4),), lambda x: x.swapaxes(0, 2)),
    Case("T", lambda x: x.T, (U(2, 3, 4),), lambda x: x.T),
    Case("mT", lambda x: x.mT, (U(2, 3, 4),), lambda x: x.swapaxes(-1, -2)),
    Case("expand", lambda x: x.expand(2, -1, 4), (U(3, 1),), lambda x: np.broadcast_to(x, (2, 3, 4))),
    Case("expand_as", lambda x, y: x.expand_as(y) * y, (U(1, 4), U(3, 4)), lambda x, y: x * y),
    Case("squeeze_all", lambda x: x.squeeze(), (U(1, 3, 1, 2),), lambda x: x.squeeze()),
    Case("squeeze_dim", lambda x: x.squeeze(-2), (U(1, 3, 1, 2),), lambda x: x.squeeze(2)),
    Case("squeeze_tuple_and_noop", lambda x: ac.squeeze(x, (0, 1)), (U(1, 3, 1, 2),), lambda x: x.squeeze(0)),
    Case("unsqueeze", lambda x: x.unsqueeze(1), (U(2, 3),), lambda x: x[:, None]),
    Case("unsqueeze_neg", lambda x: x.unsqueeze(-1), (U(2, 3),), lambda x: x[..., None]),
    Case("flatten", lambda x: x.flatten(), (U(2, 3, 4),), lambda x: x.reshape(-1)),
    Case("flatten_range", lambda x: ac.flatten(x, 1, -2), (U(2, 3, 4, 2),), lambda x: x.reshape(2, 12, 2)),
    Case("cat", lambda a, b, c: ac.cat([a, b, c], dim=-1), (U(2, 3), U(2, 1), U(2, 4)),
         lambda a, b, c: np.concatenate([a, b, c], -1)),
    Case("cat_reused", lambda a: ac.cat((a, a * 2), 0), (U(2, 3),), lambda a: np.concatenate([a, a * 2])),
    Case("stack", lambda a, b: ac.stack([a, b], 1), (U(2, 3), U(2, 3)), lambda a, b: np.stack([a, b], 1)),
    Case("stack_neg_dim", lambda a, b: ac.stack([a, b, a], -1), (U(2, 3), U(2, 3)),
         lambda a, b: np.stack([a, b, a], -1)),
    Case("split_size", lambda x: x.split(2, dim=1), (U(3, 5),), lambda x: _split(x, [2, 2, 1], 1)),
    Case("split_sections", lambda x: ac.split(x, [1, 3], -1), (U(2, 4),), lambda x: _split(x, [1, 3], 1)),
    Case("split_one_used", lambda x: ac.split(x, 1)[1] * 3, (U(3, 2),), lambda x: x[1:2] * 3),
    Case("split_reused", lambda x: (lambda p: p[0] * p[1] + p[0])(x.split(2, 0)), (U(4, 3),),
         lambda x: x[:2] * x[2:] + x[:2]),
    Case("chunk", lambda x: x.chunk(3, dim=-1), (U(2, 7),), lambda x: _split(x, [3, 3, 1], 1)),
    Case("chunk_fewer", lambda x: ac.chunk(x, 4), (U(3, 2),), lambda x: _split(x, [1, 1, 1], 0)),
    Case("pad_constant", lambda x: ac.pad(x, (1, 2, 0, 1)), (U(2, 3, 4),),
         lambda x: _pad(x, [(0, 0), (0, 1), (1, 2)], "constant")),
    Case("pad_constant_value_crop", lambda x: ac.pad(x, (-1, 2, 1, -2), value=0.5), (U(4, 5),),
         lambda x: _pad(x[:-2, 1:], [(1, 0), (0, 2)], "constant", 0.5)),
    Case("pad_reflect", lambda x: ac.pad(x, (2, 3, 1, 1), mode="reflect"), (U(2, 3, 4),),
         lambda x: _pad(x, [(0, 0), (1, 1), (2, 3)], "reflect")),
    Case("pad_replicate", lambda x: ac.pad(x, (3, 1), mode="replicate"), (U(2, 3),),
         lambda x: _pad(x, [(0, 0), (3, 1)], "replicate")),
    Case("pad_circular", lambda x: ac.pad(x, (2, 1, 3, 0), mode="circular"), (U(2, 3, 4),),
         lambda x: _pad(x, [(0, 0), (3, 0), (2, 1)], "circular")),
    Case("flip", lambda x: x.flip((0, -1)), (U(2, 3, 4),), lambda x: x[::-1, :, ::-1]),
    Case("flip_reused", lambda x: ac.flip(x, 1) * x, (U(2, 3),), lambda x: x[:, ::-1] * x),
    Case("repeat", lambda x: x.repeat(2, 1, 3), (U(3, 2),), lambda x: np.tile(x, (2, 1, 3))),
    Case("tile_short", lambda x: x.tile((2,)), (U(2, 3, 2),), lambda x: np.tile(x, (1, 1, 2))),
    Case("tril", lambda x: x.tril(), (U(4, 3),), np.tril),
    Case("tril_batched_diag", lambda x: ac.tril(x, -1), (U(2, 3, 4),), lambda x: np.tril(x, -1)),
    Case("triu_diag", lambda x: x.triu(1), (U(2, 4, 4),), lambda x: np.triu(x, 1)),
]
