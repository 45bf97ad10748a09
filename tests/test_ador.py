"""ADOR (docs/methods/ador.md §10): relation geometry, box attention, cross-attention wiring, masking of
objects, the BCE stage loss, and a CPU smoke fit of ADOR and its single-encoder ablations."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vadflow.stores.detections import ObjectSets
from vadflow.methods import get_method
from vadflow.methods.ador.method import ADOR, ADORNet
from vadflow.methods.ador.net import ClipEncoder, EncoderLayer, MultiHeadAttention, box_relation, relation_embedding, sinusoid_positions
from vadflow.methods.base import MethodError, VideoData
from vadflow.methods.losses import masked_bce_logits, stage_sum_bce

torch.set_num_threads(1)
LOG_EPS = math.log(1e-3)


def small_encoder(encoder: str = "both", seed: int = 0, **kw) -> ClipEncoder:
    torch.manual_seed(seed)
    return ClipEncoder(8, 6, encoder, d=16, heads=4, ffn=32, half_layers=kw.pop("half_layers", 1), dropout=0.0, **kw).eval()


def clip_inputs(n: int = 3, k: int = 5, seed: int = 0, n_valid: int = 3):
    g = torch.Generator().manual_seed(seed)
    maps = torch.randn(n, 8, 2, 3, generator=g)
    feats = torch.randn(n, k, 6, generator=g)
    xy = torch.rand(n, k, 2, generator=g) * 80
    wh = torch.rand(n, k, 2, generator=g) * 30 + 2
    boxes = torch.cat([xy, xy + wh], dim=-1)
    valid = torch.zeros(n, k, dtype=torch.bool)
    valid[:, :n_valid] = True
    return maps, feats, boxes, valid


# ------------------------------------------------------------------------- geometry (§10.2)
def test_relative_position_and_embedding_hand_values():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 20.0], [5.0, 0.0, 25.0, 20.0]])
    lam = box_relation(boxes)
    torch.testing.assert_close(lam[0, 1], torch.tensor([0.0, LOG_EPS, math.log(2.0), 0.0]))
    torch.testing.assert_close(lam[0, 0], torch.tensor([LOG_EPS, LOG_EPS, 0.0, 0.0]))
    # b relative to a uses a's size: |x_a - x_b| / w_b for the reverse pair
    torch.testing.assert_close(lam[1, 0], torch.tensor([math.log(10.0 / 20.0), LOG_EPS, math.log(0.5), 0.0]))
    emb = relation_embedding(torch.zeros(4))
    assert emb.shape == (64,)
    assert torch.all(emb[:32] == 0) and torch.all(emb[32:] == 1)
    # c-major: the first 8 sines belong to component 0, frequency f uses 1000^(f/8)
    e = relation_embedding(torch.tensor([0.01, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(e[:8], torch.sin(100 * 0.01 / torch.pow(1000.0, torch.arange(8) / 8)))
    assert torch.all(e[8:32] == 0)


def test_positional_encoding_and_row_major_action_tokens():
    pe = sinusoid_positions(5, 6)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
    torch.testing.assert_close(pe[3, :2], torch.tensor([math.sin(3.0), math.cos(3.0)]))
    enc = small_encoder("action")
    maps = torch.randn(1, 8, 2, 3)
    tokens = enc.action_tokens(maps)
    assert tokens.shape == (1, 7, 16)
    cells = torch.relu(enc.action_in(maps))[0]  # [d, 2, 3]
    pos = sinusoid_positions(7, 16)
    torch.testing.assert_close(tokens[0, 0], enc.cls_a + pos[0])
    torch.testing.assert_close(tokens[0, 1], cells[:, 0, 0] + pos[1])  # token 1 = cell (0, 0)
    torch.testing.assert_close(tokens[0, 4], cells[:, 1, 0] + pos[4])  # token 1 + W' = cell (1, 0)


# ------------------------------------------------------------------ box attention (§10.3-4)
def box_layer_and_inputs(seed: int = 0):
    torch.manual_seed(seed)
    layer = EncoderLayer(16, 4, 32, 0.0, box=True).eval()
    x = torch.randn(2, 5, 16)  # [CLS] + 4 objects
    keys = torch.ones(2, 5, dtype=torch.bool)
    boxes = torch.rand(2, 4, 4) * 40
    boxes[..., 2:] += boxes[..., :2] + 3
    return layer, x, keys, boxes


def test_box_attention_with_unit_geometry_is_plain_attention():
    layer, x, keys, boxes = box_layer_and_inputs()
    with torch.no_grad():
        layer.geometry.w_g.weight.zero_()
        layer.geometry.w_g.bias.fill_(1.0)  # g == 1: log g == 0 for every pair
    emb = relation_embedding(box_relation(boxes))
    y = layer.norm1(x)
    got = layer.attn(y, y, keys, layer.geometry(emb))
    plain = MultiHeadAttention(16, 4, 0.0).eval()
    plain.load_state_dict(layer.attn.state_dict())
    torch.testing.assert_close(got, plain(y, y, keys), rtol=0, atol=1e-6)
    # a key whose geometry weight g is 0 for the real queries gets (almost) no weight
    g = torch.ones(2, 4, 4, 4)  # [N, K, K, h]
    g[:, :, 2] = 0.0  # every object query, key object 2 (token 3)
    bias = torch.nn.functional.pad(torch.log(g.clamp(min=1e-6)).permute(0, 3, 1, 2), (1, 0, 1, 0))
    layer.attn.keep_weights = True
    layer.attn(y, y, keys, bias)
    w = layer.attn.last_weights  # [N, h, Lq, Lk]
    assert torch.all(w[:, :, 1:, 3] < 1e-5)
    assert torch.all(w[:, :, 0, 3] > 1e-3)  # the [CLS] query has no geometry term


def test_cls_row_ignores_geometry():
    layer, x, keys, boxes = box_layer_and_inputs(1)
    with torch.no_grad():
        layer.geometry.w_g.bias.fill_(0.5)  # a live geometry term
    layer.attn.keep_weights = True
    y = layer.norm1(x)
    layer.attn(y, y, keys, layer.geometry(relation_embedding(box_relation(boxes))))
    first = layer.attn.last_weights.clone()
    moved = boxes * 1.7 + torch.tensor([3.0, -2.0, 9.0, 4.0])
    moved[:, 2, 2:] += 15.0  # reshape one box too
    layer.attn(y, y, keys, layer.geometry(relation_embedding(box_relation(moved))))
    second = layer.attn.last_weights
    torch.testing.assert_close(first[:, :, 0], second[:, :, 0], rtol=0, atol=0)  # [CLS] query row
    assert not torch.allclose(first[:, :, 1:, 1:], second[:, :, 1:, 1:])  # object rows do see geometry


# --------------------------------------------------------------------- cross-attention (§4.3)
def test_cross_attention_reads_the_other_streams_middle_keys_and_values():
    enc = small_encoder("both")
    maps, feats, boxes, valid = clip_inputs()
    seen = {}

    def keep(name):
        def hook(module, args, out):
            seen.setdefault(name, args)
        return hook

    enc.action_cross.layers[0].attn.register_forward_hook(keep("a"))
    enc.object_cross.layers[0].attn.register_forward_hook(keep("o"))
    with torch.no_grad():
        z = enc(maps, feats, boxes, valid)
        a_mid = enc.action_self(enc.action_tokens(maps))
        keys = torch.cat([torch.ones(3, 1, dtype=torch.bool), valid], 1)
        o_mid = enc.object_self(enc.object_tokens(feats), keys, emb=relation_embedding(box_relation(boxes)))
    # The memory (keys and values) of each stream's cross layer is the other stream's first-half output.
    torch.testing.assert_close(seen["a"][1], o_mid)
    torch.testing.assert_close(seen["o"][1], a_mid)
    torch.testing.assert_close(seen["a"][2], keys)  # invalid objects masked as keys
    assert z.shape == (3, 32)

    attn = enc.action_cross.layers[0].attn
    q = enc.action_cross.layers[0].norm1(a_mid)
    with torch.no_grad():
        base = attn(q, o_mid, keys)[:, 0]
        # this stream's own middle tokens (other than the query row) are not keys: no effect
        own = q.clone()
        own[:, 1:] += torch.randn_like(own[:, 1:]) * 3
        torch.testing.assert_close(attn(own, o_mid, keys)[:, 0], base, rtol=0, atol=1e-6)
        # the other stream's middle tokens are the keys and values: the output moves
        other = o_mid.clone()
        other[:, 1:] += torch.randn_like(other[:, 1:]) * 3
        assert (attn(q, other, keys)[:, 0] - base).abs().max() > 1e-3


def test_perturbing_the_other_branch_changes_each_streams_output():
    enc = small_encoder("both")
    maps, feats, boxes, valid = clip_inputs()
    with torch.no_grad():
        z = enc(maps, feats, boxes, valid)
        z_obj = enc(maps, feats + torch.randn_like(feats), boxes, valid)  # objects changed
        z_act = enc(maps + torch.randn_like(maps), feats, boxes, valid)  # action changed
    d = 16
    assert (z_obj[:, :d] - z[:, :d]).abs().max() > 1e-4  # CLS_a sees the objects
    assert (z_act[:, d:] - z[:, d:]).abs().max() > 1e-4  # CLS_o sees the action map
    # the single-stream ablations see only their own input
    act = small_encoder("action")
    with torch.no_grad():
        torch.testing.assert_close(act(maps, None, None, None), act(maps, feats, boxes, valid))
        assert act(maps, None, None, None).shape == (3, 16)


# ------------------------------------------------------------------ object masking (§10.5-6)
def test_invalid_objects_do_not_matter_and_valid_ones_are_a_set():
    enc = small_encoder("both", half_layers=2)
    maps, feats, boxes, valid = clip_inputs(n_valid=3)
    with torch.no_grad():
        z = enc(maps, feats, boxes, valid)
        f2, b2 = feats.clone(), boxes.clone()
        f2[:, 3:] = torch.randn_like(f2[:, 3:]) * 10
        b2[:, 3:] = b2[:, 3:] * 2 + 5
        torch.testing.assert_close(enc(maps, f2, b2, valid), z, rtol=0, atol=1e-5)
        perm = torch.tensor([2, 0, 1, 3, 4])
        torch.testing.assert_close(enc(maps, feats[:, perm], boxes[:, perm], valid[:, perm]), z, rtol=0, atol=1e-5)


def test_trimming_padding_slots_leaves_z_unchanged():
    from vadflow.methods.ador.method import trim_objects

    enc = small_encoder("both")
    maps, feats, boxes, valid = clip_inputs(k=7, n_valid=2)
    valid[1, 2] = True  # slots 0..2 hold objects somewhere in the batch, 3..6 are padding everywhere
    batch = {"feats": feats.numpy(), "boxes": boxes.numpy(), "valid": valid.numpy()}
    cut = trim_objects(batch)
    assert cut["valid"].shape == (3, 3) and cut["feats"].shape == (3, 3, 6)
    with torch.no_grad():
        z = enc(maps, feats, boxes, valid)
        z_cut = enc(maps, *(torch.from_numpy(cut[k]) for k in ("feats", "boxes", "valid")))
    torch.testing.assert_close(z_cut, z, rtol=0, atol=1e-5)
    empty = trim_objects({**batch, "valid": np.zeros((3, 7), bool)})
    assert empty["valid"].shape == (3, 1)


def test_no_detection_clip_is_finite_and_all_masked():
    enc = small_encoder("both")
    maps, feats, boxes, _ = clip_inputs()
    none = torch.zeros(3, 5, dtype=torch.bool)
    with torch.no_grad():
        z = enc(maps, torch.zeros_like(feats), torch.zeros_like(boxes), none)
        z2 = enc(maps, feats, boxes, none)  # nothing of an all-masked set reaches z
    assert torch.isfinite(z).all()
    torch.testing.assert_close(z, z2, rtol=0, atol=1e-6)
    obj = small_encoder("object")
    with torch.no_grad():
        assert torch.isfinite(obj(None, feats, boxes, none)).all()


# ------------------------------------------------------------------- shapes, loss (§10.1, 10)
def test_published_shapes_clip_vector_and_window():
    torch.manual_seed(0)
    enc = ClipEncoder(1024, 2048).eval()
    with torch.no_grad():
        z = enc(torch.randn(4, 1024, 7, 7), torch.randn(4, 36, 2048), torch.rand(4, 36, 4) * 100,
                torch.rand(4, 36) > 0.5)
    assert z.shape == (4, 1024)
    cfg = {**ADOR.defaults, "d_model": 16, "heads": 2, "ffn": 16, "half_layers": 1}
    net = ADORNet(8, 6, cfg, layers=7).eval()
    m = torch.ones(2, 128)
    m[1, 100:] = 0
    n_real = int(m.sum())
    maps, feats, boxes, valid = clip_inputs(n_real)
    index = torch.cat([torch.arange(128), 128 + torch.arange(100)])
    with torch.no_grad():
        out = net({"maps": maps, "feats": feats, "boxes": boxes, "valid": valid, "index": index}, m)
    assert out.shape == (6, 2, 128) and out.min() >= 0 and out.max() <= 1
    assert torch.all(out[:, 1, 100:] == 0)


def test_tcn_logits_chain_like_the_scores():
    from vadflow.methods.tcn import MultiStageTCN

    torch.manual_seed(0)
    tcn = MultiStageTCN(5, 8, 3, 2)
    x, m = torch.randn(2, 5, 12), torch.ones(2, 12)
    m[1, 9:] = 0
    # stage s+1 reads sigmoid(logits_s) * m, so the logits give back the scores exactly
    torch.testing.assert_close(torch.sigmoid(tcn.logits(x, m)) * m, tcn(x, m), rtol=0, atol=1e-7)


def test_bce_with_logits_values():
    assert masked_bce_logits(torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1)).item() == pytest.approx(math.log(2), abs=1e-6)
    logits = torch.tensor([[0.0, 5.0, -3.0]])
    a, m = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[1.0, 1.0, 0.0]])
    want = (math.log(2) + math.log1p(math.exp(5.0))) / 2  # the masked position adds nothing
    assert masked_bce_logits(logits, a, m).item() == pytest.approx(want, rel=1e-6)
    assert stage_sum_bce(torch.stack([logits, logits]), a, m).item() == pytest.approx(2 * want, rel=1e-6)


# ------------------------------------------------------------------------- method (§10.11)
class FakeObjects:
    """In-memory stand-in for vadflow.stores.detections.VideoObjects."""

    def __init__(self, k: int, rng, n_obj: int = 5, dim: int = 6, move: bool = False):
        self.feature_dim = dim
        self.valid = rng.random((k, n_obj)) > 0.4
        self.feats = rng.normal(size=(k, n_obj, dim)).astype(np.float32)
        xy = rng.random((k, n_obj, 2)).astype(np.float32) * 0.7
        self.boxes = np.concatenate([xy, xy + 0.2], -1)

    def __len__(self) -> int:
        return len(self.valid)

    def __getitem__(self, rows: slice) -> ObjectSets:
        return ObjectSets(self.boxes[rows], self.valid[rows].astype(np.float32), np.full(self.valid[rows].shape, -1),
                          self.feats[rows], self.valid[rows], (120, 160))


@pytest.fixture(scope="module")
def videos():
    rng = np.random.default_rng(0)
    out = []
    for i in range(8):
        k = int(rng.integers(18, 30))
        maps = rng.normal(size=(k, 8, 2, 2)).astype(np.float32)
        labels = np.zeros(k * 16)
        objs = FakeObjects(k, rng)
        if i % 2:
            labels[96:224] = 1  # clips 6..13
            maps[6:14] += 1.5
            objs.feats[6:14] += 1.0
        out.append(VideoData(id=f"v{i}", features=maps, n_frames=k * 16, clip_len=16, stride=16, anomalous=bool(i % 2),
                             frame_labels=labels, extras={"objects": objs}))
    return out


TINY = {"window": 8, "test_window": 16, "layers": 3, "stages": 2, "epochs": 4, "d_model": 16, "heads": 2, "ffn": 16,
        "half_layers": 1, "lr": 2e-3, "batch_size": 4, "device": "cpu"}


@pytest.mark.parametrize("encoder", ["both", "action", "object"])
def test_fit_lowers_the_loss_and_save_load_scores_identically(videos, encoder, tmp_path):
    model = get_method("ador")({**TINY, "encoder": encoder, "standardize": encoder == "both"})
    model.fit(videos[:6])
    hist = model.history
    assert all(np.isfinite(hist)) and hist[-1] < hist[0]
    assert model.net.encoder.out_dim == (32 if encoder == "both" else 16)
    s = model.score(videos[7])
    assert s.shape == (videos[7].n_frames,) and np.all((s >= 0) & (s <= 1))
    model.save(tmp_path / "m.pt")
    again = ADOR.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(again.score(videos[7]), s)


def test_scores_separate_the_shifted_clips(videos):
    model = ADOR({**TINY, "epochs": 15, "stages": 1})
    model.fit(videos[:6])
    s = model.score(videos[7])
    assert s[96:224].mean() > s[:96].mean() + 0.1


def test_inputs_are_checked(videos):
    model = ADOR(TINY)
    flat = VideoData(id="flat", features=np.zeros((5, 8), np.float32), n_frames=80, clip_len=16, stride=16, anomalous=False)
    with pytest.raises(MethodError, match=r"action maps \[K, C, H', W'\]"):
        model.fit([flat])
    bare = VideoData(id="bare", features=videos[0].features, n_frames=videos[0].n_frames, clip_len=16, stride=16, anomalous=False)
    with pytest.raises(MethodError, match="no detections"):
        model.fit([bare])
    ADOR({**TINY, "encoder": "action", "epochs": 1}).fit([bare])  # the action ablation needs none
