"""
The numbers behind the visualisation: a model with its checkpoint, a clip read as the config's
test reads it (``factory.load_clip``), the inputs its attention blocks get (forward hooks), and
what those blocks do with them, read from the blocks themselves: DNL's temporal self-attention
maps (``TemporalSelfAttention.attention_map``), GTA's learned T x T matrices
(``GlobalTemporalAttention.head_matrices``) and Region GTA's assignment of pixels to regions
(``region_assignment``); and the reversal asymmetry of a T x T map (paper Fig. 1, Sec. 3.3).
"""

import logging
import os
from dataclasses import dataclass
from typing import List

import numpy as np
import torch
import torch.nn.functional as F

from ..blocks import GlobalTemporalAttention, TemporalSelfAttention
from ..checkpoint import CheckpointError, LoadPlan, test_plan
from ..config import load_config
from ..datasets.decoding import UnreadableVideo
from ..datasets.video_dataset import pack_pathways, prepare_clip
from ..factory import load_clip
from ..models import build_model, parse_place_name

logger = logging.getLogger(__name__)

GTA_BRANCHES = ("pixel", "region")


# ------------------------------------------------------------------------------------------------
# The model


def load_model(cfg_path, checkpoint=None, opts=()):
    """
    The model of the config at ``cfg_path`` in eval mode on the CPU, with the weights of
    ``checkpoint`` or, without one, those its test loads (TEST.CHECKPOINT_FILE_PATH, else the
    last checkpoint of OUTPUT_DIR, else TRAIN.CHECKPOINT_FILE_PATH), every tensor of both,
    through the package's one checkpoint reader.

    Returns:
        (cfg, model, trained): ``trained`` is False when no checkpoint was found and the model
        keeps its initial weights.
    Raises:
        CheckpointError: the checkpoint does not fit; the message names it, the tensors and
            the config.
    """
    cfg = load_config(cfg_path, list(opts or []))
    cfg.NUM_GPUS = 0
    model = build_model(cfg).eval()
    plan = LoadPlan("--checkpoint", checkpoint, "test", cfg=cfg) if checkpoint else test_plan(cfg)
    if plan is None:
        logger.warning(
            "%s: no --checkpoint, no TEST.CHECKPOINT_FILE_PATH and no checkpoint in %s; the "
            "figures show the initial weights", cfg_path, cfg.OUTPUT_DIR,
        )
        return cfg, model, False
    try:
        plan.load(model)
    except CheckpointError as error:
        raise CheckpointError(f"config {cfg_path}: {error}") from error
    return cfg, model, True


# ------------------------------------------------------------------------------------------------
# The clip


@dataclass
class Clip:
    """A clip as the model takes it and as it is shown: ``pathways``, the model's input
    ([1, C, T_p, H, W] per pathway); ``frames``, uint8 RGB [T, H, W, 3] of its frames (the last
    pathway's, which holds every frame); ``frame_indices``, each pathway's frames in it."""

    pathways: List[torch.Tensor]
    frames: np.ndarray
    frame_indices: List[List[int]]


def pathway_frame_indices(cfg, num_frames):
    """Which of ``num_frames`` frames each pathway of ``cfg``'s model takes, found by packing
    the frame numbers the way the clips are packed (``pack_pathways``)."""
    numbers = torch.arange(num_frames, dtype=torch.float32).reshape(1, -1, 1, 1)
    packed = pack_pathways(cfg, numbers.expand(3, -1, 1, 1).contiguous())
    return [p[0, :, 0, 0].long().tolist() for p in packed]


def shown_frames(cfg, pathways):
    """uint8 RGB frames [T, H, W, 3] of the last pathway of a normalised clip: DATA.STD and
    DATA.MEAN undone, channels back in RGB order under DATA.REVERSE_INPUT_CHANNEL."""
    frames = pathways[-1][0]  # [C, T, H, W]
    if cfg.DATA.REVERSE_INPUT_CHANNEL:
        frames = frames[[2, 1, 0]]
    mean, std = (torch.tensor(v, dtype=frames.dtype).reshape(-1, 1, 1, 1)
                 for v in (cfg.DATA.MEAN, cfg.DATA.STD))
    frames = ((frames * std + mean) * 255.0).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(frames.permute(1, 2, 3, 0).numpy())


def _clip(cfg, pathways):
    frames = shown_frames(cfg, pathways)
    return Clip(list(pathways), frames, pathway_frame_indices(cfg, len(frames)))


def video_clip(path, cfg):
    """The clip of the video file (or frame folder) ``path`` that ``cfg``'s test takes
    (``load_clip``: its decoding, sampling, crop and normalisation; the first view, the centre
    crop). Raises FileNotFoundError or ValueError naming the video."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"video {path!r} does not exist")
    try:
        return _clip(cfg, load_clip(path, cfg))
    except UnreadableVideo as err:
        raise ValueError(str(err)) from err


def random_frames(num_frames, size, seed=0):
    """Synthetic frames: uint8 [T, size, size, 3] drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (num_frames, size, size, 3), generator=generator).to(torch.uint8)


def frames_clip(frames, cfg):
    """The clip of uint8 frames [T, H, W, 3], normalised, test-cropped and packed as the
    config's test does (``prepare_clip``)."""
    pathways, _ = prepare_clip(cfg, torch.as_tensor(frames), train=False)
    return _clip(cfg, [x.unsqueeze(0) for x in pathways])


def random_clip(cfg, seed=0):
    """A clip of DATA.NUM_FRAMES random frames of DATA.TEST_CROP_SIZE pixels (``seed``)."""
    return frames_clip(random_frames(cfg.DATA.NUM_FRAMES, cfg.DATA.TEST_CROP_SIZE, seed), cfg)


def reversed_clip(clip, cfg):
    """``clip`` with its frames in reverse order, packed again into pathways."""
    frames = clip.pathways[-1][0].flip(1)
    if cfg.DATA.REVERSE_INPUT_CHANNEL:  # packing reverses the channels again
        frames = frames[[2, 1, 0]]
    pathways = [x.unsqueeze(0) for x in pack_pathways(cfg, frames)]
    return Clip(pathways, np.ascontiguousarray(clip.frames[::-1]), clip.frame_indices)


# ------------------------------------------------------------------------------------------------
# The blocks


def capture_block_inputs(model, inputs, types):
    """Runs ``model`` once on ``inputs``; returns {module name: (module, its input)} for its
    modules of ``types`` (forward pre-hooks, removed afterwards)."""
    captured, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, types):

            def hook(module, args, name=name):
                captured[name] = (module, args[0].detach())

            handles.append(module.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(list(inputs))
    finally:
        for handle in handles:
            handle.remove()
    return captured


def attention_blocks(model, clip):
    """({place: (GTA block, its input)}, {place: (temporal self-attention block, its input)})
    of ``model`` run on ``clip``; places as ``models.place_name`` writes them."""
    captured = capture_block_inputs(
        model, clip.pathways, (GlobalTemporalAttention, TemporalSelfAttention)
    )
    gta, temporal = {}, {}
    for name, (block, x) in captured.items():
        place = parse_place_name(name)
        key = place.name if place else name
        (gta if isinstance(block, GlobalTemporalAttention) else temporal)[key] = (block, x)
    return gta, temporal


def mean_temporal_attention(block, x, position=None):
    """DNL's T x T temporal attention for the input ``x`` [1, C, T, H, W] of a
    TemporalSelfAttention ``block`` (its ``attention_map``): the mean over the block's heads,
    groups and H x W positions, or at ``position`` (i, j) of its grid."""
    maps = block.attention_map(x, position)[0]
    return maps.reshape(-1, *maps.shape[-2:]).mean(dim=0)


def region_assignment(block, x, size):
    """Region GTA's soft assignment of the pixels of ``x`` [1, C, T, H', W'] to the R regions
    (``block.region_assignment``), bilinearly resized to the frames' ``size`` (h, w):
    [R, T, h, w] floats, summing to one over R."""
    with torch.no_grad():
        assign = block.region_assignment(x)[0]  # [R, T, H', W']
    return F.interpolate(assign, size=tuple(size), mode="bilinear", align_corners=False).numpy()


def gta_head_matrices(weight):
    """Each head's T x T matrix: the mean of M_g^k over its G groups g. ``weight``:
    [G heads, G groups, T, T] -> [G heads, T, T]."""
    return weight.mean(dim=1)


def gta_mean_matrix(weight):
    """GTA's T x T matrix averaged over the G heads and the G groups of ``weight``
    [G, G, T, T]; G times it is the mixing, averaged over the heads, of a signal that all
    groups carry."""
    return weight.mean(dim=(0, 1))


def flip_time(matrix):
    """A T x T map with both axes reversed: a map of the reversed clip in the clip's frame
    order (P M P, P the reversal permutation)."""
    return matrix[..., ::-1, ::-1] if isinstance(matrix, np.ndarray) else matrix.flip(-1, -2)


def reversal_asymmetry(matrix):
    """||M - flip(M)|| / (2 ||M||) (Frobenius), in [0, 1]: 0 when M commutes with the reversal
    of the frames, so that a clip and its reversal give outputs that are each other's reversal
    and a temporal average cannot tell them apart; larger the more M depends on frame order
    (a matrix of i.i.d. random entries: about 1/sqrt(2); 1: flip(M) = -M)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    norm = np.linalg.norm(matrix)
    return float(np.linalg.norm(matrix - flip_time(matrix)) / (2 * norm)) if norm else 0.0


@dataclass
class MapRow:
    """
    A block's T x T map for the clip and for the reversed clip (rows output frame, columns
    input frame, each in its own clip's order). ``learned``: a signed learned matrix (GTA)
    rather than softmax weights (DNL).
    """

    title: str
    clip: np.ndarray
    reversed: np.ndarray
    learned: bool

    @property
    def flipped(self):
        """The reversed clip's map with both axes flipped: in the clip's frame order."""
        return np.ascontiguousarray(flip_time(self.reversed))

    @property
    def max_difference(self):
        """max |flipped - clip|: 0 when the block treats the clip's reversal as the clip in
        reverse order."""
        return float(np.abs(self.flipped - self.clip).max())


@dataclass
class HeadRow:
    """One GTA branch's heads, each [T, T] (the mean over its groups), most asymmetric
    first."""

    title: str
    heads: np.ndarray  # [G, T, T], sorted
    order: list  # the head index of each
    asymmetry: list  # reversal_asymmetry of each


def head_row(title, weight):
    """The ``HeadRow`` of a GTA weight [G, G, T, T], heads sorted by reversal asymmetry."""
    heads = gta_head_matrices(weight.detach().double()).numpy()
    asymmetry = [reversal_asymmetry(m) for m in heads]
    order = sorted(range(len(heads)), key=lambda k: -asymmetry[k])
    return HeadRow(title, heads[order], order, [asymmetry[k] for k in order])


# ------------------------------------------------------------------------------------------------
# A model on a clip


class Subject:
    """
    One model with a clip run through it: ``gta`` and ``temporal``, {place: (block, its input)}
    of its GTA and temporal self-attention blocks; ``label``, its name in the figures (with
    "untrained weights" when no checkpoint was loaded).
    """

    def __init__(self, tag, cfg, model, clip, trained=True):
        self.tag, self.cfg, self.model, self.clip = tag, cfg, model, clip
        self.label = tag if trained else f"{tag} (untrained weights)"
        self.gta, self.temporal = attention_blocks(model, clip)
        self._reversed = None

    def reversed_temporal(self):
        """{place: (temporal self-attention block, its input)} for the clip reversed."""
        if self._reversed is None:
            self._reversed = attention_blocks(self.model, reversed_clip(self.clip, self.cfg))[1]
        return self._reversed

    def block_input(self, place):
        """The input [1, C, T, H, W] the temporal block (TSA or GTA) at ``place`` got."""
        return (self.temporal.get(place) or self.gta[place])[1]

    def block_frames(self, place, num_frames):
        """The shown frame of each of a block's ``num_frames`` time steps."""
        parsed = parse_place_name(place)
        index = self.clip.frame_indices[parsed.pathway if parsed else 0]
        return self.clip.frames[[index[t * len(index) // num_frames] for t in range(num_frames)]]

    def block_position(self, place, position):
        """The clip pixel ``position`` (y, x) on the spatial grid of the block at ``place``;
        None stays None."""
        if position is None:
            return None
        grid = self.block_input(place).shape[3:]
        size = self.clip.frames.shape[1:3]
        return tuple(p * g // s for p, g, s in zip(position, grid, size))

    def regions(self, place):
        """(assignment [R, T, h, w] at the frames' resolution, the frames [T, h, w, 3]) of the
        Region GTA block at ``place``."""
        block, x = self.gta[place]
        frames = self.block_frames(place, x.shape[2])
        return region_assignment(block, x, frames.shape[1:3]), frames

    def temporal_rows(self, place, position=None):
        """([MapRow], [HeadRow]) at ``place``: DNL's temporal self-attention for the clip and
        its reversal (mean over positions, or at the clip pixel ``position``), and per GTA
        branch its mean matrix and its heads."""
        map_rows, head_rows = [], []
        if place in self.temporal:
            block, x = self.temporal[place]
            x_reversed = self.reversed_temporal()[place][1]
            grid = self.block_position(place, position)
            with torch.no_grad():
                clip = mean_temporal_attention(block, x, grid)
                reversed_clip = mean_temporal_attention(block, x_reversed, grid)
            h, w = x.shape[3:]
            where = (f"mean over the block's {h}x{w} positions" if grid is None else
                     f"at pixel {position} = block position {grid}")
            map_rows.append(MapRow(
                f"{self.label}: temporal self-attention softmax(q_t k_s), {where}; computed "
                f"from each clip", clip.double().numpy(), reversed_clip.double().numpy(),
                learned=False,
            ))
        if place in self.gta:
            block = self.gta[place][0]
            for branch in GTA_BRANCHES:
                if not getattr(block, branch):
                    continue
                weight = block.head_matrices(branch).detach()
                g = weight.shape[0]
                matrix = gta_mean_matrix(weight.double()).numpy()
                map_rows.append(MapRow(
                    f"{self.label}: {branch} GTA's learned M, mean over its {g} heads and {g} "
                    f"groups; the same for every clip", matrix, matrix, learned=True,
                ))
                head_rows.append(head_row(
                    f"{self.label}: {branch} GTA per head (mean over its groups), most "
                    f"order-dependent first\nr = |M - flip(M)| / 2|M| (0: blind to frame order; "
                    f"unstructured, i.i.d. entries: about 0.71)",
                    weight,
                ))
        return map_rows, head_rows


def clip_for(cfg, video=None, seed=0):
    """The clip of ``video`` as ``cfg``'s test reads it, or without one a random clip."""
    return video_clip(video, cfg) if video else random_clip(cfg, seed)


def check_position(position, clip):
    """``position`` (y, x) inside the clip's frames; raises ValueError naming it."""
    h, w = clip.frames.shape[1:3]
    y, x = position
    if not (0 <= y < h and 0 <= x < w):
        bounds = f"y and x must be in [0, {h})" if h == w else f"y in [0, {h}), x in [0, {w})"
        raise ValueError(f"--position {y},{x}: {bounds} (the clip's DATA.TEST_CROP_SIZE crop)")
