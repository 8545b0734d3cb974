"""Rotary position embedding in the HF layout (the two halves of each head rotate together).

cos/sin are computed per batch from the positions (a handful of ops, no cache sized to the model's
context), in float32 as transformers does, so long positions round the same way.
"""

from __future__ import annotations

import math

import torch

from toolwire.models.config import ModelConfig, RopeScaling


def inverse_frequencies(head_dim: int, theta: float, scaling: RopeScaling | None) -> torch.Tensor:
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if scaling is None:
        return inv_freq
    if scaling.rope_type == "linear":
        return inv_freq / scaling.factor
    if scaling.rope_type == "freq_factors":
        return inv_freq / torch.tensor(scaling.freq_factors, dtype=torch.float32)
    if scaling.rope_type == "llama3":
        return _llama3_inverse_frequencies(inv_freq, scaling)
    if scaling.rope_type == "yarn":
        return _yarn_inverse_frequencies(head_dim, theta, scaling)
    raise ValueError(f"unknown rope scaling {scaling.rope_type!r}")


def _llama3_inverse_frequencies(inv_freq: torch.Tensor, s: RopeScaling) -> torch.Tensor:
    # Long wavelengths are slowed by `factor`, short ones kept, the band between blended smoothly.
    low_freq_wavelen = s.original_max_position_embeddings / s.low_freq_factor
    high_freq_wavelen = s.original_max_position_embeddings / s.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq)
    smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (
        s.high_freq_factor - s.low_freq_factor)
    blended = (1 - smooth) * scaled / s.factor + smooth * scaled
    in_band = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(in_band, blended, scaled)


def _yarn_inverse_frequencies(dim: int, theta: float, s: RopeScaling) -> torch.Tensor:
    # Dimensions that turn fewer than beta_slow times over the original context are interpolated
    # (divided by factor), those turning more than beta_fast times kept, a linear ramp between.
    def dimension_of(rotations: float) -> float:
        return dim * math.log(s.original_max_position_embeddings / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low, high = dimension_of(s.beta_fast), dimension_of(s.beta_slow)
    if s.truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    original = 1.0 / (theta ** (torch.arange(0, dim, 2).float() / dim))
    return original / s.factor * ramp + original * (1 - ramp)


def yarn_magnitude(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def rotary_magnitude(scaling: RopeScaling | None) -> float:
    """What cos and sin are multiplied by (YaRN's attention factor; 1 otherwise)."""
    if scaling is None or scaling.rope_type != "yarn":
        return 1.0
    if scaling.attention_factor is not None:
        return float(scaling.attention_factor)
    if scaling.mscale and scaling.mscale_all_dim:
        return yarn_magnitude(scaling.factor, scaling.mscale) / yarn_magnitude(scaling.factor, scaling.mscale_all_dim)
    return yarn_magnitude(scaling.factor)


class RotaryEmbedding(torch.nn.Module):
    """rotary_dim: the dimensions rotated (config.head_dim unless the family rotates part of a head)."""

    def __init__(self, config: ModelConfig, device: torch.device | None = None, rotary_dim: int | None = None):
        super().__init__()
        inv_freq = inverse_frequencies(rotary_dim or config.head_dim, config.rope_theta, config.rope_scaling)
        self.register_buffer("inv_freq", inv_freq.to(device), persistent=False)
        self.magnitude = rotary_magnitude(config.rope_scaling)

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """[T] positions -> cos, signed sin, each [T, 1, rotary_dim], for `apply_rotary`."""
        angles = positions.float().unsqueeze(1) * self.inv_freq
        cos, sin = angles.cos(), angles.sin()
        if self.magnitude != 1.0:
            cos, sin = cos * self.magnitude, sin * self.magnitude
        cos = torch.cat((cos, cos), dim=1).to(dtype).unsqueeze(1)
        sin = torch.cat((-sin, sin), dim=1).to(dtype).unsqueeze(1)
        return cos, sin


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [T, heads, head_dim]. x*cos + rotate_half(x)*sin, with rotate_half(x) = roll(x)*sign folded
    into the signed sin: roll by half a head gives (x2, x1), the sign makes it (-x2, x1)."""
    return torch.addcmul(x * cos, x.roll(x.shape[-1] // 2, dims=-1), sin)


def interleaved_cos_sin(cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos / signed sin from RotaryEmbedding.cos_sin (halves layout) -> the layout of
    `apply_rotary_interleaved`, where the pairs are adjacent elements (2i, 2i + 1)."""
    half = cos.shape[-1] // 2
    cos = cos[..., :half].repeat_interleave(2, dim=-1)
    sin = torch.stack((sin[..., :half], sin[..., half:]), dim=-1).flatten(-2)  # (-s_i, +s_i) per pair
    return cos, sin


def apply_rotary_interleaved(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary over adjacent pairs (x[2i], x[2i+1]) -- Llama 4's and DeepSeek's layout -- with cos / sin
    from `interleaved_cos_sin`: x*cos + swap_pairs(x)*sin, the swap giving (x[2i+1], x[2i])."""
    swapped = x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)
    return torch.addcmul(x * cos, swapped, sin)
