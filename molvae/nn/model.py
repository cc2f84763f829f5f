"""The conditional VAE as plain torch modules; no I/O, no training loop.

Condition vectors have ``2 * P`` entries for ``P`` properties: the standardised values with
masked-out entries set to 0, followed by the mask bits (1 = requested, 0 = left free). Any
subset of properties can therefore be requested at generation time.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from molvae.errors import BadInputError
from molvae.nn.stepper import Stepper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters that fully determine the network's shape.

    No defaults here: :class:`molvae.train.config.TrainConfig` is their single home, and a checkpoint
    stores every field.
    """

    vocab_size: int
    n_properties: int
    max_length: int  # maximum SELFIES symbols (without start/end) the decoder writes
    embed_dim: int
    encoder_hidden: int
    encoder_layers: int
    latent_dim: int
    decoder_hidden: int
    decoder_layers: int
    property_hidden: int
    dropout: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**d)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged (or summed) over the batch: shape [latent_dim]."""
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return kl.sum(0) if reduction == "sum" else kl.mean(0)


def run_gru(gru: nn.GRU, x, hidden: torch.Tensor | None = None):
    """``gru(x, hidden)``, in float32 (TF32 tensor cores) when CUDA autocast is on.

    Under autocast, PyTorch sends cuDNN RNNs to float16 whatever autocast's dtype is, and float16
    gradients without loss scaling can underflow; the GRU is kept out of autocast on CUDA, and
    the layers around it run in bf16. On the CPU autocast (bf16) reaches the GRU's matrix
    products and the state stays float32, so nothing changes there.
    """
    packed = isinstance(x, PackedSequence)
    if (x.data if packed else x).device.type != "cuda" or not _cuda_autocast_on():
        return gru(x, hidden)
    with torch.autocast("cuda", enabled=False):
        if packed:
            x = PackedSequence(x.data.float(), x.batch_sizes, x.sorted_indices, x.unsorted_indices)
        else:
            x = x.float()
        return gru(x, None if hidden is None else hidden.float())


def padded_bidirectional_states(gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Final states ``[layers * 2, B, H]`` of a bidirectional, batch-first ``gru`` over the padded
    ``x`` [B, T, D] with ``lengths`` [B] (CPU): what the GRU gives for the packed sequences.

    Each direction runs over the padded batch, the backward one on every sequence reversed within
    its own length, and its state is read at position ``length - 1``; padding only ever comes
    after that position, so it changes nothing. On the CPU this is about 3x faster than packing,
    whose per-step batch sizes prevent computing the input projections of all steps at once.
    """
    b, t, _ = x.shape
    steps = torch.arange(t)
    length = lengths.to(torch.long).unsqueeze(1)
    rev = torch.where(steps < length, length - 1 - steps, steps).to(x.device)  # its own inverse
    last = (lengths.to(torch.long) - 1).to(x.device)
    rows = torch.arange(b, device=x.device)
    states, inp = [], x
    for layer in range(gru.num_layers):
        outs = []
        for suffix in ("", "_reverse"):
            weights = [
                getattr(gru, f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            ]
            if suffix:
                inp_dir = inp.gather(1, rev.unsqueeze(2).expand(-1, -1, inp.size(2)))
            else:
                inp_dir = inp
            h0 = inp.new_zeros((1, b, gru.hidden_size))
            y = _private_gru(inp_dir, h0, weights, gru.training)
            if y is None:  # this torch's private GRU call differs: the public, packed path
                return _packed_bidirectional_states(gru, x, lengths)
            states.append(y[rows, last])
            outs.append(y.gather(1, rev.unsqueeze(2).expand(-1, -1, y.size(2))) if suffix else y)
        inp = torch.cat(outs, dim=2)
        if gru.training and gru.dropout > 0 and layer < gru.num_layers - 1:
            inp = F.dropout(inp, gru.dropout, True)
    return torch.stack(states)


_PRIVATE_GRU = {"works": True}


def _private_gru(x: torch.Tensor, h0: torch.Tensor, weights: list[torch.Tensor], training: bool) -> torch.Tensor | None:
    """One layer, one direction of a batch-first GRU over the whole padded ``x``: the outputs [B, T, H].

    ``torch._VF.gru`` is private and positional, so its signature may change between torch
    releases; when the call fails, None (and a log line, once): callers take the public path.
    """
    if _PRIVATE_GRU["works"]:
        try:
            return _vf_gru(x, h0, weights, training)
        except (AttributeError, TypeError) as exc:
            _PRIVATE_GRU["works"] = False
            log.info(
                "torch._VF.gru failed (%s); the encoder uses packed sequences instead (slower on the CPU)",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
    return None


def _vf_gru(x: torch.Tensor, h0: torch.Tensor, weights: list[torch.Tensor], training: bool) -> torch.Tensor:
    # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    return torch._VF.gru(x, h0, weights, True, 1, 0.0, training, False, True)[0]


def _packed_bidirectional_states(gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """What :func:`padded_bidirectional_states` computes, through the public packed-sequence path."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    return run_gru(gru, packed)[1]


def _cuda_autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled("cuda")
    except TypeError:  # torch < 2.4
        return torch.is_autocast_enabled()


def check_sampling_setting(name: str, value: object, zero: str) -> None:
    """Refuse a sampling setting (temperature, guidance) that is not 0 (meaning ``zero``) or a
    positive finite number, with one message wherever it is checked (NaN and text refused)."""
    try:
        ok = bool(0 <= value < float("inf"))  # type: ignore[operator]
    except TypeError:
        ok = False
    if not ok:
        shown = repr(value) if isinstance(value, str) else str(value)
        raise BadInputError(f"{name} must be 0 ({zero}) or a positive finite number, got {shown}")


def make_condition(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Condition vector ``[values * mask, mask]`` from standardised values and a 0/1 mask."""
    mask = mask.to(values.dtype)
    return torch.cat([values * mask, mask], dim=-1)


class Encoder(nn.Module):
    """Bidirectional GRU over token embeddings with the condition appended at every step."""

    def __init__(self, cfg: ModelConfig, embedding: nn.Embedding):
        super().__init__()
        self.embedding = embedding
        self.gru = nn.GRU(
            cfg.embed_dim + 2 * cfg.n_properties,
            cfg.encoder_hidden,
            num_layers=cfg.encoder_layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.encoder_layers > 1 else 0.0,
        )
        self.to_stats = nn.Linear(2 * cfg.encoder_hidden + 2 * cfg.n_properties, 2 * cfg.latent_dim)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, cond: torch.Tensor):
        """Return ``(mu, logvar)`` of q(z | x, c). ``tokens`` [B, T] with ``<end>``, lengths [B].

        Give ``lengths`` as a CPU tensor to avoid a device-to-host copy; when they are already in
        decreasing order (as training batches are), packing needs no index tensors on the device.
        On the CPU the GRU reads the padded batch instead (see :func:`padded_bidirectional_states`).
        """
        x = self.embedding(tokens)
        x = torch.cat([x, cond.unsqueeze(1).expand(-1, x.size(1), -1)], dim=-1)
        lengths = lengths.cpu()
        if x.device.type == "cpu":
            h = padded_bidirectional_states(self.gru, x, lengths)
        else:
            ordered = bool((lengths[:-1] >= lengths[1:]).all())
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=ordered)
            _, h = run_gru(self.gru, packed)  # [layers * 2, B, H]
        h = torch.cat([h[-2], h[-1]], dim=-1)
        mu, logvar = self.to_stats(torch.cat([h, cond], dim=-1)).chunk(2, dim=-1)
        return mu, logvar.clamp(-10.0, 10.0)


class Decoder(nn.Module):
    """GRU decoder: z sets the initial hidden state; z and the condition are fed at every step."""

    def __init__(self, cfg: ModelConfig, embedding: nn.Embedding):
        super().__init__()
        self.cfg = cfg
        self.embedding = embedding
        side = cfg.latent_dim + 2 * cfg.n_properties
        self.init_hidden = nn.Linear(side, cfg.decoder_layers * cfg.decoder_hidden)
        self.gru = nn.GRU(
            cfg.embed_dim + side,
            cfg.decoder_hidden,
            num_layers=cfg.decoder_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.decoder_layers > 1 else 0.0,
        )
        self.out = nn.Linear(cfg.decoder_hidden, cfg.vocab_size)

    def initial_state(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        side = torch.cat([z, cond], dim=-1)
        h = torch.tanh(self.init_hidden(side))
        return h.view(z.size(0), self.cfg.decoder_layers, self.cfg.decoder_hidden).transpose(0, 1).contiguous()

    def stepper(self, z: torch.Tensor, cond: torch.Tensor, dtype: torch.dtype | None = None) -> Stepper:
        """A step-by-step decoder for generation (see :class:`molvae.nn.stepper.Stepper`)."""
        return Stepper(self, z, cond, dtype)

    def forward(self, inputs: torch.Tensor, z: torch.Tensor, cond: torch.Tensor, hidden=None):
        """Logits [B, T, V] for teacher-forced ``inputs`` [B, T]; also the final hidden state."""
        side = torch.cat([z, cond], dim=-1)
        if hidden is None:
            hidden = self.initial_state(z, cond)
        x = self.embedding(inputs)
        x = torch.cat([x, side.unsqueeze(1).expand(-1, x.size(1), -1)], dim=-1)
        y, hidden = run_gru(self.gru, x, hidden)
        return self.out(y), hidden


class PropertyHead(nn.Module):
    """MLP predicting the standardised properties from z."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.property_hidden),
            nn.SiLU(),
            nn.Linear(cfg.property_hidden, cfg.property_hidden),
            nn.SiLU(),
            nn.Linear(cfg.property_hidden, max(cfg.n_properties, 1)),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConditionalVAE(nn.Module):
    """Token embedding, encoder, Gaussian latent, decoder and property head.

    Token ids follow :class:`molvae.data.vocabulary.Vocabulary`: 0 = pad, 1 = start, 2 = end.
    """

    PAD, START, END = 0, 1, 2

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=self.PAD)
        self.encoder = Encoder(cfg, self.embedding)
        self.decoder = Decoder(cfg, self.embedding)
        self.property_head = PropertyHead(cfg)

    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor, cond: torch.Tensor):
        """``(mu, logvar)`` for token ids [B, T] (symbols then ``<end>``) of ``lengths`` [B]."""
        return self.encoder(tokens, lengths, cond)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None):
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * torch.exp(0.5 * logvar)

    def forward(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        cond: torch.Tensor,
        generator: torch.Generator | None = None,
        word_dropout: float = 0.0,
        eps: torch.Tensor | None = None,
        drop: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Teacher-forced pass. ``tokens`` [B, T] hold symbols, ``<end>`` and padding.

        Returns logits [B, T, V] (predicting ``tokens``), mu, logvar, z and property predictions.
        The noise can be given instead of drawn from ``generator``: ``eps`` [B, latent_dim] for
        the reparameterisation and ``drop`` (bool [B, T]) for word dropout (training only).
        """
        mu, logvar = self.encode(tokens, lengths, cond)
        if eps is None:
            z = self.reparameterize(mu, logvar, generator)
        else:
            z = mu + eps.to(mu.dtype) * torch.exp(0.5 * logvar)
        start = torch.full((tokens.size(0), 1), self.START, dtype=tokens.dtype, device=tokens.device)
        inputs = torch.cat([start, tokens[:, :-1]], dim=1)
        if self.training and (drop is not None or word_dropout > 0):
            if drop is None:
                drop = torch.rand(inputs.shape, generator=generator, device=inputs.device) < word_dropout
            drop = drop.clone()
            drop[:, 0] = False
            inputs = inputs.masked_fill(drop & (inputs != self.PAD), self.PAD)
        logits, _ = self.decoder(inputs, z, cond)
        return {"logits": logits, "mu": mu, "logvar": logvar, "z": z, "props": self.property_head(z)}

    @torch.inference_mode()
    def generate(
        self,
        z: torch.Tensor,
        cond: torch.Tensor,
        temperature: float = 1.0,
        max_length: int | None = None,
        generator: torch.Generator | None = None,
        first_allowed: torch.Tensor | None = None,
        dtype: torch.dtype | None = None,
        template: torch.Tensor | None = None,
        guidance: float = 0.0,
        free: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Autoregressive decoding; returns token ids [B, max_length + 1] (``<end>`` then pad).

        ``temperature`` 0 decodes greedily. A sequence may not end before its first symbol;
        ``first_allowed`` (bool [V]) restricts the first symbol (e.g. to atoms, so that SELFIES
        never decodes to an empty molecule). ``dtype`` (e.g. ``torch.bfloat16``) is the precision
        of the matrix products; the recurrent state stays float32.

        ``template`` (token ids [B, T]) imposes tokens: at a position t < T where the row's
        template is not ``<pad>``, that token is emitted (and fed to the next step) instead of
        a decoded one; ``<pad>`` entries, and every position from T on, are decoded as usual.
        A template that is a molecule's tokens cut short continues the molecule under z; one
        with a single ``<pad>`` resamples that token in context. Without it, decoding is unchanged.

        ``guidance`` w > 0 is classifier-free guidance on the condition: each step's logits are
        those under ``cond`` pushed away from those under ``free`` (condition rows with fewer or no
        properties given; default none), ``free + (1 + w) * (cond - free)``. A model trained with
        condition dropout knows both; w = 0 decodes under ``cond`` alone, at half the cost.

        Each sequence stops at its ``<end>``: finished rows leave the batch (every step on the
        CPU, every 8 steps on a GPU, where dropping rows costs a host synchronisation), so the
        work is proportional to the molecules' lengths, not to the longest one. Inference only:
        dropout is never applied here.
        """
        check_sampling_setting("temperature", temperature, "greedy")
        max_length = max_length or self.cfg.max_length
        b, dev = z.size(0), z.device
        out = torch.full((b, max_length + 1), self.PAD, dtype=torch.long, device=dev)
        if b == 0:
            return out
        check_sampling_setting("guidance", guidance, "none")
        step = self.decoder.stepper(z, cond, dtype)
        unguided = None
        if guidance > 0:
            unguided = self.decoder.stepper(z, torch.zeros_like(cond) if free is None else free, dtype)
        v = self.cfg.vocab_size
        ban = torch.zeros(v, device=dev)
        ban[[self.PAD, self.START]] = -float("inf")
        ban_first = ban.clone()
        ban_first[self.END] = -float("inf")
        if first_allowed is not None:
            ban_first[~first_allowed.to(dev)] = -float("inf")
        every = 1 if dev.type == "cpu" else 8
        rows = torch.arange(b, device=dev)  # rows of ``out`` still being decoded
        token = torch.full((b,), self.START, dtype=torch.long, device=dev)
        done = torch.zeros(b, dtype=torch.bool, device=dev)
        forced = None if template is None else template.to(dev)[:, :max_length]
        for t in range(max_length + 1):
            if t == max_length:
                out[rows, t] = torch.full_like(token, self.END).masked_fill(done, self.PAD)
                break
            logits = step(token)
            if unguided is not None:
                base = unguided(token)
                logits = base.add_(logits.sub_(base).mul_(1.0 + guidance))
            logits = logits.add_(ban_first if t == 0 else ban)  # in place: a fresh tensor
            if temperature <= 0:
                nxt = logits.argmax(-1)
            else:
                probs = F.softmax(logits if temperature == 1.0 else logits / temperature, dim=-1)  # x / 1 == x
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            if forced is not None and t < forced.size(1):
                imposed = forced[rows, t]
                nxt = torch.where(imposed != self.PAD, imposed, nxt)
            nxt = nxt.masked_fill(done, self.PAD)
            out[rows, t] = nxt
            done = done | (nxt == self.END)
            token = nxt
            if t % every == every - 1:
                keep = (~done).nonzero().squeeze(1)  # a host synchronisation
                if keep.numel() == 0:
                    break
                if keep.numel() < done.numel():
                    rows, token, done = rows[keep], token[keep], done[keep]
                    step.select(keep)
                    if unguided is not None:
                        unguided.select(keep)
        return out
