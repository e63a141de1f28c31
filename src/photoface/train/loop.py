"""The two-stage semi-supervised training loop (paper §3.3–3.4) with exact resume.

One iteration ("step"):

1. take the next hybrid batch (:class:`photoface.data.sampler.HybridBatchSampler`), augment it
   (random flip, random scale; pairs flip together) with draws from a generator seeded by
   ``(seed, step, rank)``;
2. run the generator (encoder, shape and albedo decoders, identity classifier, and the shape
   decoder again on swapped pair codes), render with the predicted pose and light;
3. critic: ``optim.critic_steps`` RMSprop updates of the WGAN-div loss, real shapes sampled from
   the linear face model, fake = this batch's decoded shapes (the same fake batch for every critic
   step, so the encoder runs once per step);
4. generator: Adam on the weighted sum of all losses (:mod:`photoface.train.objective`), the
   critic frozen; then the identity centers move (Wen et al.'s update).

The landmark start (``schedule.landmark_start``, fresh runs only, at set-up) fits the encoder's
linear landmark-to-code map to linear-model samples and the labeled photos
(:mod:`photoface.train.landmark_start`).
Stage 0 (``schedule.stage0_steps``, fresh runs only, before step 1) pretrains the GCN decoders on
linear-model samples (:mod:`photoface.train.pretrain`). Stage 1 uses the GCN albedo decoder, stage 2
the CNN albedo decoder with U-Net skips; their lengths and the switch are
:mod:`photoface.train.stages`.

Exact resume: everything that decides the future is in the checkpoint (weights, buffers, optimiser
and scheduler states, identity centers, sampler position, loss window, RNG states of every rank);
every random draw of a step comes from a generator seeded by the step number, so a run resumed
from step n repeats the losses of an uninterrupted run bit for bit (same device and thread count;
``schedule.deterministic`` for GPUs). Checkpoints record the thread count and device; resuming
with others continues correctly but drifts in the last bits (a RuntimeWarning says so), and they
record the mesh hierarchy's digest, which must match (``run.checkpoint.check_hierarchy``).

Validation (``schedule.validation_identities``, :mod:`photoface.train.validation`): held-out
training people are measured at the start and at every checkpoint, and ``checkpoints/best.pt``
is the best of them, the start included; what the run's users read.

Guards: a step whose loss or gradient norm is not finite (on any rank) is skipped: no optimiser
step, batch-norm statistics restored, counted in ``skipped_steps``; the checkpoint writer refuses
non-finite tensors. SIGINT and SIGTERM finish the current step, write a checkpoint and return.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import warnings
from pathlib import Path

import torch

from photoface import losses
from photoface.data.sampler import HybridBatchSampler
from photoface.errors import PhotofaceError
from photoface.facemodel import load_face_model, model_hash
from photoface.jsonfile import write_json
from photoface.run import checkpoint as ckpt
from photoface.run.build import network_args
from photoface.run.config import TrainConfig
from photoface.run.config_parse import from_dict
from photoface.run.layout import best_checkpoint, config_path, last_checkpoint, validation_path
from photoface.run.resolve import check_resume_config
from photoface.train import distributed as dist_ops
from photoface.train.build import (
    GeneratorOutput,
    Parts,
    build_parts,
    critic_optimizer,
    generator_optimizer,
    stage_parameters,
)
from photoface.train.feed import BatchStream, check_data_against_checkpoint, load_training_data, step_generator
from photoface.train.landmark_start import landmark_start
from photoface.train.objective import StepInputs, critic_loss, generator_losses, prepare_inputs, weighted_total
from photoface.train.pretrain import pretrain_decoders
from photoface.train.result import RunSummary
from photoface.train.run_log import LossWindow, RunLogger
from photoface.train.stages import carry_moments, stage2_due, stage_lengths
from photoface.train.validation import Selection, Validator
from photoface.train.visual import reconstruction_grid


class Trainer:
    """Sets up a run (fresh or resumed) and trains it; see :func:`photoface.train.train`.

    ``read_only``: set up a resumed run without writing into its folder (for diagnostics such as
    :mod:`photoface.train.gradients`, which must leave the run as they found it).
    """

    def __init__(self, cfg: TrainConfig, data_dirs, out_dir, resume: bool = False, progress: bool = True,
                 read_only: bool = False):
        self.cfg = cfg
        sched = cfg.schedule
        self.dist = dist_ops.init_distributed(sched.device)
        self.device = self.dist.device
        if sched.threads:
            torch.set_num_threads(int(sched.threads))
        if sched.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's condition for determinism
            torch.use_deterministic_algorithms(True)
        self.run_dir = Path(out_dir)
        self.progress = progress

        existing = last_checkpoint(self.run_dir)
        if resume and existing is None:
            raise PhotofaceError(f"{self.run_dir}: nothing to resume (no checkpoints/last.pt)")
        if not resume and existing is not None:
            raise PhotofaceError(f"{self.run_dir} already holds a run; pass --resume to continue it or choose another --out")

        self.data_dirs = [Path(d) for d in data_dirs]
        if not self.data_dirs:
            raise PhotofaceError("no training data given (--data DIR)")
        face_model = load_face_model(cfg.model.face_model)
        face_model_hash = model_hash(face_model)
        state = ckpt.load_checkpoint(existing, face_model_hash) if resume else None
        if state is not None:
            check_resume_config(from_dict(state["config"]), cfg)

        data = load_training_data(self.data_dirs, cfg, face_model, face_model_hash)
        self.dataset, self.data_meta = data.dataset, data.meta
        check_data_against_checkpoint(self.run_dir, state, self.dataset, self.data_meta)
        self.validates = data.validation is not None and not read_only
        # only the process that writes checkpoints validates; every process saves with it
        self.validator = Validator(data.validation, face_model) if self.validates and self.dist.is_main else None
        self.selection = Selection()
        self.fresh = state is None

        pairs = cfg.data.labeled_pairs if any(self.dataset.labeled) else 0
        self.sampler = HybridBatchSampler(
            self.dataset.row_identities, self.dataset.labeled,
            identities_per_batch=cfg.data.identities_per_batch, photos_per_identity=cfg.data.photos_per_identity,
            labeled_pairs=pairs, seed=sched.seed, rank=self.dist.rank, world_size=self.dist.world_size,
        )
        self.stage1_steps, self.stage2_steps = stage_lengths(sched, len(self.sampler))
        self.total_steps = self.stage1_steps + self.stage2_steps
        if sched.max_steps is not None:
            self.total_steps = min(self.total_steps, int(sched.max_steps))

        torch.manual_seed(sched.seed)
        self.parts: Parts = build_parts(cfg, self.device, face_model)
        self.parts.attach_identities(len(self.dataset.identities), self.device)
        # before the generator is wrapped: DistributedDataParallel then broadcasts rank 0's start
        self.landmark_start = self._landmark_start(face_model) if state is None else None
        self.stage = 1 if self.stage1_steps > 0 else 2
        self.step = 0
        self.skipped = 0
        self.window = LossWindow()
        self._set_stage(self.stage)
        self.opt_d, self.sched_d = critic_optimizer(cfg, self.parts)
        if state is not None:
            self._load_state(state)
        loader_gen = torch.Generator().manual_seed(sched.seed)
        self.loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=self.sampler, num_workers=cfg.data.workers,
            generator=loader_gen, pin_memory=self.device.type == "cuda",
            persistent_workers=cfg.data.workers > 0,
        )
        self.stream = BatchStream(self.loader, self.sampler)
        self.start_step = self.step
        if self.dist.is_main and not read_only:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.to_yaml(config_path(self.run_dir))

    # ------------------------------------------------------------------------------- set-up
    def _landmark_start(self, face_model):
        """The ridge start of the linear landmark map (:mod:`photoface.train.landmark_start`), fresh runs only."""
        cfg, sched = self.cfg, self.cfg.schedule
        if not sched.landmark_start:
            return None
        if not (cfg.model.shape_linear_path or sched.stage0_steps > 0):
            raise PhotofaceError("schedule.landmark_start regresses linear-model coefficients as codes, which the codes "
                                 "mean only with model.shape_linear_path=true or schedule.stage0_steps > 0")
        return landmark_start(self.parts.net, self.dataset, face_model, samples=sched.landmark_start_samples,
                              noise=sched.landmark_start_noise,
                              copies=sched.landmark_start_copies, lambdas=sched.landmark_start_lambdas,
                              folds=sched.landmark_start_folds, max_photos=sched.landmark_start_max_photos,
                              seed=sched.seed)

    def _set_stage(self, stage: int) -> None:
        """Activate a stage's albedo decoder and (re)build the generator optimiser for it."""
        old = getattr(self, "opt_g", None)
        self.stage = stage
        self.parts.net.stage = stage
        self.gen = self.parts.wrap_generator(self.dist)
        offset = 0 if stage == 1 else self.stage1_steps
        self.opt_g, self.sched_g = generator_optimizer(self.cfg, self.parts, stage, offset)
        if old is not None:
            carry_moments(old, self.opt_g, stage_parameters(self.parts, stage))

    def _state(self) -> dict:
        rng = dist_ops.gather_objects(ckpt.capture_rng(), self.dist)
        return {
            "step": self.step,
            "stage": self.stage,
            "config": self.cfg.to_dict(),
            "face_model": self.cfg.model.face_model,
            "face_model_hash": self.parts.face_model_hash,
            "mesh_hierarchy": self.parts.hierarchy_digest,
            "compute": {"threads": torch.get_num_threads(), "device": self.device.type},
            "network": network_args(self.cfg),
            "dataset": self.data_meta,
            "identities": self.dataset.identities,
            "model": self.parts.net.state_dict(),
            "head": self.parts.head.state_dict(),
            "centers": self.parts.centers.detach().cpu(),
            "discriminator": self.parts.critic.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "sampler": self.stream.state_dict(),
            "rng": rng,
            "log_window": self.window.state_dict(),
            "counters": {"skipped_steps": self.skipped},
            "selection": self.selection.state_dict(),
        }

    def _load_state(self, state: dict) -> None:
        ckpt.check_hierarchy(last_checkpoint(self.run_dir), state, self.parts.hierarchy_digest)
        note = ckpt.compute_note(state, torch.get_num_threads(), self.device.type)
        if note is not None:
            warnings.warn(f"{self.run_dir}: {note}", RuntimeWarning, stacklevel=3)
        self.step = int(state["step"])
        if int(state["stage"]) != self.stage:
            self._set_stage(int(state["stage"]))
        p = self.parts
        p.net.load_state_dict(state["model"])
        p.head.load_state_dict(state["head"])
        p.centers.copy_(state["centers"].to(self.device))
        p.critic.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.sampler.load_state_dict(state["sampler"])
        self.window.load_state_dict(state["log_window"])
        self.skipped = int(state["counters"]["skipped_steps"])
        self.selection = Selection.from_state(state.get("selection"))
        rng = state["rng"]
        ckpt.restore_rng(rng[self.dist.rank] if self.dist.rank < len(rng) else rng[0])

    # ------------------------------------------------------------------------------- one step
    def forward_batch(self, batch: dict[str, torch.Tensor], g: torch.Generator) -> tuple[StepInputs, GeneratorOutput]:
        """Augment ``batch`` with draws from ``g``, run the generator and render.

        Returns (StepInputs, :class:`~photoface.train.build.GeneratorOutput` in float32 with the
        FaceNet output rendered by ``FaceNet.render_output``; stage 2 adds ``albedo_vertices``,
        the per-vertex read-back of the albedo map, for the symmetry loss).
        """
        cfg, p = self.cfg, self.parts
        x = prepare_inputs(batch, self.sampler.grouped_size, self.sampler.pair_count, cfg.data, g, self.device)
        images = x.images.contiguous(memory_format=torch.channels_last) if cfg.schedule.channels_last else x.images
        amp = cfg.schedule.amp and self.device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext():
            out = self.gen(images, x.pair_a, x.pair_b, x.landmarks)
        out = out.float()
        out.net = p.net.render_output(out.net)
        if out.net.albedo is None and cfg.loss.albedo_symmetry > 0:
            # hidden vertices copy their visible mirror partner (or the template albedo), so only
            # pairs visible on both sides carry a symmetry error
            out.albedo_vertices = p.net.vertex_albedo(out.net, fallback=p.face_model.tex_mean)
        return x, out

    def _train_step(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, float] | None, dict]:
        cfg, p = self.cfg, self.parts
        g = step_generator(cfg.schedule.seed, self.step, self.dist.rank)
        buffers = {k: v.clone() for k, v in p.net.named_buffers()}
        x, out = self.forward_batch(batch, g)

        values: dict[str, float] = {}
        use_critic = cfg.loss.adversarial > 0
        if use_critic:
            for _ in range(cfg.optim.critic_steps):
                loss_d = critic_loss(cfg.loss, p.critic, p.face_model, out.net.shape, g)
                self.opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                dist_ops.average_gradients(p.critic.parameters(), self.dist)
                norm_d = torch.nn.utils.clip_grad_norm_(p.critic.parameters(), float("inf"))
                if dist_ops.any_true(not (torch.isfinite(loss_d) and torch.isfinite(norm_d)), self.dist):
                    self.opt_d.zero_grad(set_to_none=True)
                    break
                self.opt_d.step()
                self.sched_d.step()
                values["critic"] = loss_d.item()

        p.critic.requires_grad_(False)
        try:
            terms = generator_losses(cfg.loss, x, out, p.face_model, p.nbr_mean, p.centers,
                                     p.critic if use_critic else None, cfg.model.image_size)
            total = weighted_total(cfg.loss, terms)
        finally:
            p.critic.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        clip = cfg.optim.grad_clip if cfg.optim.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(stage_parameters(p, self.stage), clip)
        if dist_ops.any_true(not (torch.isfinite(total) and torch.isfinite(norm)), self.dist):
            self.opt_g.zero_grad(set_to_none=True)
            with torch.no_grad():
                for k, v in p.net.named_buffers():
                    v.copy_(buffers[k])
            return None, {}
        self.opt_g.step()
        self.sched_g.step()
        if cfg.loss.recognition > 0 and cfg.loss.center > 0:
            codes = torch.cat(dist_ops.gather_objects(out.net.id_code.detach().cpu(), self.dist)).to(self.device)
            labels = torch.cat(dist_ops.gather_objects(x.identity.cpu(), self.dist)).to(self.device)
            p.centers.copy_(losses.center_update(codes, labels, p.centers, cfg.loss.center_alpha))
        values.update({k: v.item() for k, v in terms.items()})
        values["total"] = total.item()
        return values, {"x": x, "out": out}

    # ------------------------------------------------------------------------------- the loop
    def run(self) -> RunSummary:
        sched = self.cfg.schedule
        logger = RunLogger(self.run_dir, self.total_steps, self.start_step, self.dist.is_main, self.progress)
        stop_reason = None
        signals: dict[int, object] = {}
        received: list[int] = []

        def on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
            received.append(signum)

        with contextlib.suppress(ValueError):  # not the main thread: no handlers, Ctrl-C raises as usual
            for s in (signal.SIGINT, signal.SIGTERM):
                signals[s] = signal.signal(s, on_signal)
        started = time.monotonic()
        if self.step == 0 and self.landmark_start is not None:
            logger.message(self.landmark_start.summary())
        if self.fresh and sched.stage0_steps > 0:
            self._stage0(logger)
        first: dict[str, float] | None = None
        last: dict[str, float] = {}
        last_saved: Path | None = None
        saved_step = self.step if self.step > 0 else None
        if sched.validation_identities and not self.validates and self.fresh:
            logger.message(f"no validation: {len(self.dataset.identities)} training people are too few to hold "
                           "2 out (schedule.validation_identities takes at most an eighth of them)")
        if self.validates and not self.selection.records:
            last_saved = self._save(logger)  # the start is the first candidate
            saved_step = self.step
        try:
            while self.step < self.total_steps:
                if self.stage == 1 and stage2_due(self.step, self.stage1_steps, self.stage2_steps,
                                                  sched.time_limit_minutes, time.monotonic() - started, self.dist):
                    self._set_stage(2)
                    logger.message(f"step {self.step}: stage 2 (CNN albedo decoder with skips)")
                t0 = time.monotonic()
                batch = self.stream.next()
                values, extras = self._train_step(batch)
                self.step += 1
                if values is None:
                    self.skipped += 1
                    logger.message(f"step {self.step}: non-finite loss or gradient, step skipped ({self.skipped} so far)")
                else:
                    self.window.add(values, len(batch["image"]) * self.dist.world_size, time.monotonic() - t0)
                    first = first or values
                    last = values
                logger.step_done(values or {})
                if self.step % sched.log_every == 0 or self.step == self.total_steps:
                    self._log(logger)
                if self.dist.is_main and extras and self.step % sched.image_every == 0:
                    logger.images(self.step, reconstruction_grid(self.parts, extras))
                if self.step % sched.checkpoint_every == 0:
                    last_saved = self._save(logger)
                    saved_step = self.step
                if dist_ops.any_true(bool(received), self.dist):
                    stop_reason = "signal"
                    break
                limit = sched.time_limit_minutes
                if limit is not None and dist_ops.any_true(time.monotonic() - started > 60 * limit, self.dist):
                    stop_reason = "time_limit"
                    break
            if saved_step != self.step:
                last_saved = self._save(logger)
        finally:
            logger.close()
            for s, handler in signals.items():
                signal.signal(s, handler)
        return RunSummary(
            run_dir=self.run_dir, steps=self.step, total_steps=self.total_steps, stage=self.stage,
            skipped_steps=self.skipped, checkpoint=last_saved, stopped_by=stop_reason or "done",
            signal=received[0] if received else None, first_losses=first or {}, last_losses=last,
            seconds=time.monotonic() - started, selected=self.selection.selected,
            selected_checkpoint=best_checkpoint(self.run_dir) if self.selection.selected else None,
        )

    def _stage0(self, logger: RunLogger) -> None:
        """Decoder pretraining on linear-model samples (:mod:`photoface.train.pretrain`), fresh runs
        only; its wall time counts against ``schedule.time_limit_minutes``. Every rank runs the same
        draws, so the decoders stay identical across processes."""
        sched, t0 = self.cfg.schedule, time.monotonic()
        result = pretrain_decoders(self.parts.net, self.parts.face_model, sched.stage0_steps, sched.stage0_batch,
                                   sched.stage0_lr, seed=sched.seed, albedo=True)
        logger.message(f"stage 0: {result['steps']} decoder steps on linear-model samples in "
                       f"{time.monotonic() - t0:.0f} s, shape L1 {result['shape_mm']:.2f} mm at the end")

    def _log(self, logger: RunLogger) -> None:
        merged: dict[str, list[float]] = {}
        for means in dist_ops.gather_objects(self.window.means(), self.dist):
            for k, v in means.items():
                merged.setdefault(k, []).append(v)
        means = {k: sum(v) / len(v) for k, v in merged.items()}
        w = self.window
        extra = {
            "images_per_s": round(w.images / w.seconds, 3) if w.seconds > 0 else 0.0,
            "skipped_steps": self.skipped,
            "lr_generator": self.opt_g.param_groups[0]["lr"],
        }
        logger.log(self.step, self.stage, means, extra)
        self.window = LossWindow()

    def _save(self, logger: RunLogger) -> Path | None:
        """Validate (where validated), then write the checkpoint; ``best.pt`` too when selected."""
        selected = False
        if self.validator is not None:
            t0 = time.monotonic()
            selected = self.selection.add(self.step, self.stage, self.validator(self.parts.net))
            logger.message(f"step {self.step}: {self.selection.describe_last(len(self.validator.people))} "
                           f"({time.monotonic() - t0:.0f} s)")
        state = self._state()  # every rank: the RNG states are gathered
        path = None
        if self.dist.is_main:
            path = ckpt.save_checkpoint(self.run_dir, state, keep=self.cfg.schedule.keep_checkpoints, best=selected)
            if self.validator is not None:
                report = self.selection.report(self.validator)
                write_json(validation_path(self.run_dir), report)
        dist_ops.barrier(self.dist)
        return path

    def close(self) -> None:
        dist_ops.shutdown(self.dist)
