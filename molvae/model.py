"""The conditional VAE as plain torch modules; no I/O, no training loop.

Condition vectors have ``2 * P`` entries for ``P`` properties: the standardised values with
masked-out entries set to 0, followed by the mask bits (1 = requested, 0 = left free). Any
subset of properties can therefore be requested at generation time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters that fully determine the network's shape.

    No defaults here: :class:`molvae.config.TrainConfig` is their single home, and a checkpoint
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
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**d)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch: shape [latent_dim]."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(0)


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
        """Return ``(mu, logvar)`` of q(z | x, c). ``tokens`` [B, T] with ``<end>``, lengths [B]."""
        x = self.embedding(tokens)
        x = torch.cat([x, cond.unsqueeze(1).expand(-1, x.size(1), -1)], dim=-1)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)  # [layers * 2, B, H]
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

    def forward(self, inputs: torch.Tensor, z: torch.Tensor, cond: torch.Tensor, hidden=None):
        """Logits [B, T, V] for teacher-forced ``inputs`` [B, T]; also the final hidden state."""
        side = torch.cat([z, cond], dim=-1)
        if hidden is None:
            hidden = self.initial_state(z, cond)
        x = self.embedding(inputs)
        x = torch.cat([x, side.unsqueeze(1).expand(-1, x.size(1), -1)], dim=-1)
        y, hidden = self.gru(x, hidden)
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

    Token ids follow :class:`molvae.tokens.Vocabulary`: 0 = pad, 1 = start, 2 = end.
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
    ) -> dict[str, torch.Tensor]:
        """Teacher-forced pass. ``tokens`` [B, T] hold symbols, ``<end>`` and padding.

        Returns logits [B, T, V] (predicting ``tokens``), mu, logvar, z and property predictions.
        """
        mu, logvar = self.encode(tokens, lengths, cond)
        z = self.reparameterize(mu, logvar, generator)
        start = torch.full((tokens.size(0), 1), self.START, dtype=tokens.dtype, device=tokens.device)
        inputs = torch.cat([start, tokens[:, :-1]], dim=1)
        if word_dropout > 0 and self.training:
            drop = torch.rand(inputs.shape, generator=generator, device=inputs.device) < word_dropout
            drop[:, 0] = False
            inputs = inputs.masked_fill(drop & (inputs != self.PAD), self.PAD)
        logits, _ = self.decoder(inputs, z, cond)
        return {"logits": logits, "mu": mu, "logvar": logvar, "z": z, "props": self.property_head(z)}

    @torch.no_grad()
    def generate(
        self,
        z: torch.Tensor,
        cond: torch.Tensor,
        temperature: float = 1.0,
        max_length: int | None = None,
        generator: torch.Generator | None = None,
        first_allowed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Autoregressive decoding; returns token ids [B, T] (``<end>`` then pad after the end).

        ``temperature`` 0 decodes greedily. A sequence may not end before its first symbol;
        ``first_allowed`` (bool [V]) restricts the first symbol (e.g. to atoms, so that SELFIES
        never decodes to an empty molecule). Decoding stops as soon as every sequence has ended.
        """
        max_length = max_length or self.cfg.max_length
        b = z.size(0)
        hidden = self.decoder.initial_state(z, cond)
        token = torch.full((b, 1), self.START, dtype=torch.long, device=z.device)
        done = torch.zeros(b, dtype=torch.bool, device=z.device)
        out = torch.full((b, max_length + 1), self.PAD, dtype=torch.long, device=z.device)
        for t in range(max_length + 1):
            logits, hidden = self.decoder(token, z, cond, hidden)
            logits = logits[:, -1].float()
            logits[:, self.PAD] = -float("inf")
            logits[:, self.START] = -float("inf")
            if t == 0:
                logits[:, self.END] = -float("inf")
                if first_allowed is not None:
                    logits[:, ~first_allowed.to(logits.device)] = -float("inf")
            if t == max_length:
                nxt = torch.full((b,), self.END, dtype=torch.long, device=z.device)
            elif temperature <= 0:
                nxt = logits.argmax(-1)
            else:
                probs = F.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            nxt = nxt.masked_fill(done, self.PAD)
            out[:, t] = nxt
            done = done | (nxt == self.END)
            token = nxt.unsqueeze(1)
            if t % 8 == 7 and bool(done.all()):  # a host sync every few steps, not every step
                break
        return out
