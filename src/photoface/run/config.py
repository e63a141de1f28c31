"""The one configuration source: nested dataclasses and two presets; a config writes itself as YAML.

Presets:

* ``paper`` — the paper's setting: ResNet-50 at 224², the ~37k-vertex face model, 100 + 100
  epochs. Meant for GPUs (one, or several with torchrun).
* ``demo`` — the method scaled to train meaningfully in about ten minutes on a 2-core CPU:
  ResNet-18 at 128², the ~5k-vertex face model, a bounded number of steps, and three departures
  from the paper that a CPU budget needs: the code heads see the photo's landmarks, the shape
  decoder has a linear path that starts at the face model's basis, and the codes start at a
  closed-form ridge regression from the landmarks; and one guard beyond the paper: held-out
  training people validate the run, which keeps its best checkpoint, the start included.

Every value can be overridden from the CLI as ``section.key=value`` (YAML syntax for the value),
e.g. ``loss.adversarial=0`` or ``schedule.max_steps=200`` (:mod:`photoface.run.config_parse`, which
also reads a written config back). Loss weights that the paper does not publish were chosen so
that the main terms contribute comparable shares of the total (about 0.2-0.8 each) at the start of
training on the demo data (a `photoface synth` collection with the built-in demo model); they are
listed here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from photoface.errors import PhotofaceError


@dataclass
class ModelConfig:
    """Network and face-model choice. Sizes are the paper's unless noted."""

    face_model: str = "builtin:demo"  # a .npz path, or builtin:demo / builtin:paper
    encoder: str = "resnet18"  # resnet18 | resnet34 | resnet50
    encoder_weights: str | None = None  # optional path to ImageNet weights; nothing downloads
    image_size: int = 128  # pixels, square crops
    id_dim: int = 128
    exp_dim: int = 64
    pose_dim: int = 6
    light_dim: int = 27
    cheb_k: int = 6
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    # Fine-to-coarse down-sampling factors of the COMA hierarchy; the decoder goes back up
    # through them in reverse order: US(2) first, then US(4) four times.
    downsample_factors: tuple[int, ...] = (4, 4, 4, 4, 2)
    discriminator_channels: tuple[int, ...] = (16, 32, 64, 128)
    # Width of an MLP branch that gives the code heads the photo's 68 landmarks next to the
    # pooled image features; 0 = image only, as in the paper (photoface.nn.encoder).
    landmark_input: int = 0
    # Give the shape decoder a learned linear path that starts at the face model's basis (through
    # the code map of photoface.nn.code_map); the GCN then learns a residual. False = the paper's
    # GCN decoder alone.
    shape_linear_path: bool = False
    # Add a linear map from landmark features (with their squares and pose-proxy products) to the
    # id, exp and pose codes (photoface.nn.landmark_input.LandmarkLinear); false = the paper's.
    landmark_linear: bool = False


@dataclass
class LossConfig:
    """Loss weights (0 switches a loss off) and their internal parameters."""

    recognition: float = 0.2  # softmax over training identities, eq. (4)
    center: float = 0.01  # λ_center inside eq. (4)
    photometric: float = 2.0  # eq. (5)
    photometric_gdl: float = 1.0  # image gradient-difference part of eq. (5)
    landmark: float = 20.0  # eq. (6), on landmarks normalised by the image size
    landmark_gdl: float = 1.0  # pairwise-distance part of eq. (6)
    shape: float = 0.05  # eq. (7), L1 in mm per vertex
    pairwise_shape: float = 0.05  # eq. (8)
    smooth: float = 0.5  # eq. (9), L1 in mm per vertex
    smooth_kind: str = "ours"  # ours | laplacian (the conventional ablation)
    albedo_symmetry: float = 0.5  # eq. (10)
    # eq. (11), generator side. The critic's score gap grows to O(100) within a hundred steps and
    # its gradient is the same for every shape of a batch, so it adds up in the shared decoder
    # weights; at 1e-3 it outweighed the shape terms there (measured on the demo data).
    adversarial: float = 1e-4
    center_alpha: float = 0.5  # center update rate of Wen et al. (centers are buffers, not learned)
    wgan_div_k: float = 2.0
    wgan_div_p: float = 6.0


@dataclass
class OptimConfig:
    lr_generator: float = 1e-4  # Adam, the paper's
    lr_discriminator: float = 5e-5  # RMSprop, the paper's
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    critic_steps: int = 1  # discriminator updates per generator update (0: a frozen critic)
    grad_clip: float = 10.0  # generator gradient-norm clip; 0 = no clipping
    warmup_steps: int = 0  # linear learning-rate warm-up of both optimisers (0: the paper's constant lr)
    lr_landmark_linear: float | None = None  # Adam lr of model.landmark_linear's map; None = lr_generator


@dataclass
class DataConfig:
    identities_per_batch: int = 4  # P: unlabeled identities per batch (center loss)
    photos_per_identity: int = 3  # K: photos of each
    labeled_pairs: int = 2  # labeled pairs (2 photos each) per batch (pairwise loss)
    flip_probability: float = 0.5
    scale_range: tuple[float, float] = (0.8, 1.0)
    workers: int = 0


@dataclass
class ScheduleConfig:
    # Stage 0 (photoface.train.pretrain): decoder steps on linear-model samples before any photo,
    # at the start of a fresh run; 0 = none (the paper).
    stage0_steps: int = 0
    stage0_batch: int = 8
    stage0_lr: float = 1e-3
    # The landmark start (photoface.train.landmark_start), fresh runs with model.landmark_linear:
    # set the linear landmark-to-code map to a ridge regression on linear-model samples and the
    # labeled training photos.
    landmark_start: bool = False
    landmark_start_samples: int = 40000  # linear-model draws, posed at labeled photos' poses
    landmark_start_noise: float = 2.0 / 128  # detector noise added to every landmark, fraction of the image side
    landmark_start_copies: int = 8  # noisy copies of each labeled photo's landmarks
    landmark_start_lambdas: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # ridge λ tried (× rows)
    landmark_start_folds: int = 5  # cross-validation folds over training identities that choose λ
    landmark_start_max_photos: int = 4000  # a seeded subset of the labeled photos beyond this
    # People of the training split held out of training to validate the run at its start and at
    # every checkpoint (at most an eighth of the training people; none below 2); the run's weights
    # (RUN/checkpoints/best.pt) are the best validated ones, never worse on them than the start
    # (photoface.train.validation). 0 = no validation (the paper's: the last weights are the run's).
    validation_identities: int = 0
    stage1_steps: int = 1200  # GCN albedo decoder
    stage2_steps: int = 400  # CNN albedo decoder with skips
    max_steps: int | None = None  # hard cap on total steps (both stages)
    # Stop (and checkpoint) after this wall time. Stage 2 then starts at the stage-1 share of
    # it, stage1_steps / (stage1_steps + stage2_steps), if stage1_steps are not done by then.
    time_limit_minutes: float | None = 10.0
    checkpoint_every: int = 200
    log_every: int = 10
    image_every: int = 200
    seed: int = 0
    amp: bool = False  # bf16 autocast of the network forward, GPU only
    channels_last: bool = False
    keep_checkpoints: int = 3  # step_*.pt files kept besides last.pt
    device: str = "auto"  # auto | cpu | cuda
    threads: int | None = None  # torch CPU threads; None leaves torch's default
    deterministic: bool = False  # torch.use_deterministic_algorithms (bit-exact resume on GPU too)


@dataclass
class FitConfig:
    """The ``fit`` section: every weight, iteration count, step size and threshold of the fitter
    (``photoface.fit``), also what a run's refinement (``fit --checkpoint``, ``reconstruct --refine``) uses.

    The fitter (``photoface.fit.person``) minimises, per person (B photos, one shared identity)::

        E = Σ_b [ w_lm · L_lm,b + w_photo · L_photo,b + w_gdl · L_gdl,b + w_exp · P_exp,b + w_light · |l_b|² ]
            + w_id · |α_id|² + w_tex · |β|² + w_sym · L_sym

    with the per-photo terms averaged over the batch (``photoface.losses`` returns means) and the
    shared ones counted once, divided by B, so the posterior's balance between the data of B photos
    and the one identity prior is the MAP one of B photos.

    Units: landmark residuals are in fractions of the image side (``losses.landmark_loss``);
    ``landmark_sigma`` is the assumed landmark noise as a fraction of sqrt(w·h) of the photo's
    landmark box (the same σ as ``photoface.evaluate.baselines.fit_landmarks``); photometric terms are
    squared linear-RGB differences summed over the 3 channels, per masked pixel; coefficients are the
    face model's (standard normal, blendshape weights in [0, 1], kept inside its ``exp_bounds``); angles in degrees; learning rates
    are Adam step sizes in the units of each unknown (coefficients, pose code, SH light code).

    Stages (coarse to fine):

    1. ``landmark_*``: Levenberg-Marquardt on the 68 landmarks (and MediaPipe's points where the
       rows have them, ``dense_*``: ``photoface.fit.point_vertices``), all photos jointly, one
       identity, per-photo expression and pose, jaw landmarks and face oval on the silhouette
       (``photoface.fit.contour``);
    2. ``light_iterations``: Adam on light and albedo only (shape and pose fixed), so the photometric
       term does not pull the geometry while the colours are still wrong;
    3. ``photo_iterations``: Adam on everything, landmarks + photometric + priors + symmetry, the
       first ``coarse_photo_iterations`` of them on renders of ``coarse_size`` px
       (``photoface.fit.resolution``; measured as accurate, docs/evaluation.md "Fitting").

    Override any field from the CLI as ``--set key=value`` or ``--set fit.key=value``
    (``photoface.fit.config.apply_overrides``).
    """

    # --- stage 1: joint landmark fit (Levenberg-Marquardt)
    landmark_sigma: float = 0.02  # landmark noise, fraction of sqrt(w·h) of the landmark box
    landmark_init_iterations: int = 10  # per-photo LM from three yaw starts (initial poses)
    landmark_iterations: int = 25  # joint LM iterations, shared identity
    yaw_starts: tuple[float, ...] = (-40.0, 0.0, 40.0)  # degrees, initial yaws of the per-photo fit
    id_prior: float = 1.0  # λ of |α_id|² (standard-normal coefficients: 1 is the Gaussian prior)
    exp_prior: float = 10.0  # λ of |α_exp|²; 10 measured best on the synthetic benchmark (docs/evaluation.md)
    invisible_weight: float = 0.25  # weight of landmarks flagged invisible (guessed by a detector)
    # MediaPipe's points (rows of format 1.1 carry them): "auto" fits them where a row has them,
    # "off" fits the 68 landmarks alone (photoface.fit.point_vertices)
    dense_points: str = "auto"
    dense_weight: float = 1.0  # total weight of MediaPipe's points, in units of the 68 landmarks' weight
    detector_start: bool = True  # also start the landmark fit from MediaPipe's pose and blendshapes (fit.detector_start)
    # --- contour (jaw-line) landmarks
    # "auto": on, except for datasets whose landmarks project FIXED vertices (synthetic ones)
    contour: str = "auto"  # auto | on | off: jaw landmarks slide along precomputed lines to the silhouette
    contour_min_yaw: float = 10.0  # degrees; below it the fixed landmark vertices are used
    # --- stages 2 and 3: Adam through the renderer
    light_iterations: int = 30
    photo_iterations: int = 60
    lr_light: float = 0.05
    lr_albedo: float = 0.05
    lr_id: float = 0.01
    lr_exp: float = 0.01
    lr_pose: float = 0.002
    contour_every: int = 10  # re-pick silhouette vertices every N Adam steps
    # coarse to fine in image space (photoface.fit.resolution): the first Adam steps of stage 3 and
    # of the per-photo identities render at coarse_size px (0, or a size that does not divide the
    # photos' size: never), the rest at the photos' size
    coarse_size: int = 64
    coarse_photo_iterations: int = 45  # of photo_iterations
    # --- weights of the Adam objective (per photo, means; see module docstring)
    w_landmark: float = 1.0  # × Σ_k w_k ‖r_k‖²/σ² (losses.landmark_energy): 1 = the MAP of stage 1
    w_photo: float = 10000.0
    w_gdl: float = 5000.0
    w_id: float = 1.0
    w_exp: float = 1.0
    w_tex: float = 1.0
    w_light: float = 1.0
    w_symmetry: float = 50.0
    # --- refinement of a trained network's codes (photoface.fit.network): Adam steps, code units
    refine_lr_id: float = 0.01
    refine_lr_exp: float = 0.01
    refine_lr_pose: float = 0.002
    refine_lr_light: float = 0.02
    refine_lr_albedo: float = 0.01
    # weights of the code-space priors |z - z_encoder|² (they replace w_id/w_exp/w_light's coefficient priors)
    refine_id_prior: float = 1.0
    refine_exp_prior: float = 1.0
    refine_light_prior: float = 1.0
    refine_albedo_prior: float = 100.0  # per-vertex mean of |offset - initial offset|², linear RGB
    # --- failure detection
    fail_landmark_nme: float = 0.05  # final landmark RMS / sqrt(w·h) of the landmark box
    fail_photo_increase: float = 1.5  # photometric error grew by this factor in stage 3: diverged ...
    fail_photo_min_increase: float = 0.005  # ... and by at least this much (MSE; small errors may wobble)
    # --- per-photo identity (photoface fit): each photo's own identity next to the shared one
    # (NAME.json codes.identity_single), from the joint fit (photoface.fit.single): a landmark solve,
    # then single_photo_iterations Adam steps of all photos in one batch, each with its own identity
    single_photo_fits: bool = True
    single_photo_iterations: int = 20
    coarse_single_iterations: int = 20  # of single_photo_iterations, at coarse_size (all of them)
    single_photo_lr_id: float = 0.03  # Adam step of the per-photo identities (3 × lr_id: few steps)
    # --- the albedo written on meshes and overlays (photoface.fit.texture): "photos" reads it off the
    # person's photos (de-lit by the fitted light, fused over the photos), "model" is the fitted model
    # albedo (always in the codes)
    texture: str = "photos"
    texture_scale: int = 2  # photos are sampled at this multiple of the crop's resolution
    texture_depth_tolerance_mm: float = 2.0  # a vertex this far behind the visible surface still counts as seen
    texture_min_shading: float = 0.05  # irradiance below which a photo gives a vertex no estimate
    texture_outlier_scale: float = 0.15  # Cauchy scale (albedo units) of the robust average over photos
    texture_mirror_weight: float = 0.5  # an unseen vertex takes its mirror partner's colour at this weight
    texture_prior_weight: float = 0.05  # weight of the model albedo, in frontal views of a vertex

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                raise PhotofaceError(f"fit config: {f.name} must be >= 0, got {v}")
        if self.contour not in ("auto", "on", "off"):
            raise PhotofaceError(f"fit config: contour must be auto, on or off, got {self.contour!r}")
        if self.dense_points not in ("auto", "off"):
            raise PhotofaceError(f"fit config: dense_points must be auto or off, got {self.dense_points!r}")
        if self.texture not in ("photos", "model"):
            raise PhotofaceError(f"fit config: texture must be photos or model, got {self.texture!r}")
        if self.texture_scale < 1:
            raise PhotofaceError(f"fit config: texture_scale must be >= 1, got {self.texture_scale}")
        for name in ("texture_min_shading", "texture_outlier_scale", "texture_prior_weight"):
            if not getattr(self, name) > 0:  # divisors of the texture's estimate, average and blend
                raise PhotofaceError(f"fit config: {name} must be > 0, got {getattr(self, name)}")
        if not self.yaw_starts:
            raise PhotofaceError("fit config: yaw_starts must hold at least one yaw")
        self.yaw_starts = tuple(float(y) for y in self.yaw_starts)


@dataclass
class TrainConfig:
    preset: str = "demo"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    fit: FitConfig = field(default_factory=FitConfig)  # the fitter's, also a run's refinement (photoface.fit)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(_plain(self.to_dict()), sort_keys=False))


def _demo() -> TrainConfig:
    cfg = TrainConfig(preset="demo")
    # Three times the paper's learning rates (same 2:1 ratio): at 1e-4 the shape decoder, whose
    # last layer starts at zero, barely leaves the mean face within the few hundred steps that
    # ten minutes of a 2-core CPU allow.
    cfg.optim.lr_generator = 3e-4
    cfg.optim.lr_discriminator = 1.5e-4
    # What makes a 2-core CPU enough (docs/training.md, "Making the demo learn"): the code heads
    # also see the photo's 68 landmarks (the paper's encoder sees only the image), and the shape
    # decoder is the linear model plus a GCN residual, so that codes mean coefficients from the
    # first step.
    cfg.model.landmark_input = 256
    cfg.model.shape_linear_path = True
    # ... and the codes start at a ridge regression from the landmarks, fitted in closed form to
    # linear-model samples and the labeled training photos before step 1
    # (photoface.train.landmark_start).
    cfg.model.landmark_linear = True
    cfg.schedule.landmark_start = True
    # Adam moves every weight by about its lr in its first steps; at the generator's 3e-4 that
    # undid the start within one step (landmark NME 3.3 % -> 4.9 %, the first version of the
    # start); at 0 and 1e-6 it holds (120 steps: the same held-out errors within 0.1 %).
    cfg.optim.lr_landmark_linear = 1e-6
    # The start's identity codes verify new people better than trained ones (EER 0.13 at the
    # start, 0.17 after 10 minutes, 0.22 after 1,600 steps): 20 of the demo's 160 training people
    # validate every checkpoint and the start, and the run keeps the best of them
    # (photoface.train.validation; docs/training.md, "The training guard").
    cfg.schedule.validation_identities = 20
    return cfg


def _paper() -> TrainConfig:
    cfg = TrainConfig(preset="paper")
    cfg.model.face_model = "builtin:paper"
    cfg.model.encoder = "resnet50"
    cfg.model.image_size = 224
    cfg.data.identities_per_batch = 8
    cfg.data.photos_per_identity = 4
    cfg.data.labeled_pairs = 8
    cfg.data.workers = 8
    # The paper trains 100 + 100 epochs; steps depend on the data size, so the trainer turns
    # epochs into steps when these are None.
    cfg.schedule.stage1_steps = None  # type: ignore[assignment]
    cfg.schedule.stage2_steps = None  # type: ignore[assignment]
    cfg.schedule.time_limit_minutes = None
    cfg.schedule.checkpoint_every = 2000
    cfg.schedule.log_every = 50
    cfg.schedule.image_every = 1000
    cfg.schedule.amp = True
    cfg.schedule.channels_last = True
    return cfg


PRESETS = {"demo": _demo, "paper": _paper}
PAPER_EPOCHS_PER_STAGE = 100


def preset(name: str) -> TrainConfig:
    """A fresh copy of a preset."""
    if name not in PRESETS:
        raise PhotofaceError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
