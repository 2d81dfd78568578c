"""Live transcription: commits at pauses with the audio they cover, bounded runs, the final tail."""

import itertools
import random
import threading
import time

import numpy as np
import pytest
import torch
from tiny_models import speechlike
from tone_words import STOP, VOCABULARY, WORD_S, ToneReader, read, result_of, speak, text_of, words_of

from tiny_audio.live.streaming import LEAD_S, LiveSession
from tiny_audio.live.transcript import END_MARGIN_TOKENS, common_prefix
from tiny_audio.pipeline.text import cut_loop


def int16_chunks(samples: np.ndarray, rate: int, seconds: float = 0.5):
    """As a browser sends them: int16 chunks at the device's rate."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    step = int(seconds * rate)
    return [pcm[i : i + step] for i in range(0, pcm.size, step)]


def sentences(count: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(VOCABULARY) for _ in range(rng.randint(3, 10))] for _ in range(count)]


def stream(session: LiveSession, samples: np.ndarray, rate: int, chunk_s: float = 0.1, step_every: int = 3):
    """Feed ``samples`` in chunks, letting the session run (as its worker would) every few
    chunks; every update's text, in order."""
    texts = []
    for n, chunk in enumerate(int16_chunks(samples, rate, chunk_s)):
        session.feed(chunk, rate)
        if n % step_every == step_every - 1:
            for _ in range(2):  # a commit, then an update of the rest
                update = session.step()
                if update is not None:
                    texts.append(update.text)
    return texts


@pytest.mark.parametrize("pause_s, rate", [(0.5, 16_000), (0.06, 48_000)], ids=["pauses", "no pauses, 48 kHz"])
def test_a_session_many_windows_long_is_transcribed_whole_and_once(pause_s, rate):
    spoken = sentences(24)
    audio = speak(spoken, rate=rate, pause_s=pause_s)  # 50-70 s against an 8 s window
    reader = ToneReader()
    session = LiveSession(reader, background=False, max_seconds=8.0, long_window_s=5.0)
    texts = stream(session, audio, rate)
    final = session.finish()
    words = [w for sentence in spoken for w in sentence]
    assert final.final and words_of(final.text) == words
    # What the page showed at every update was the speech so far: nothing repeated, nothing lost.
    for text in texts:
        assert words_of(text) == words[: len(words_of(text))]
    assert max(seconds for kind, seconds, _ in reader.calls) <= 8.0
    # Each piece of text covers its own stretch of the audio, in order, up to the end.
    ends = [(s.start_s, s.end_s) for s in session.segments]
    assert all(a[1] <= b[0] + 1e-9 for a, b in zip(ends, ends[1:]))
    assert ends[-1][1] == pytest.approx(audio.size / rate, abs=0.15)


def test_commits_are_made_in_the_pauses_between_sentences():
    spoken = sentences(8, seed=1)
    audio = speak(spoken, pause_s=0.5)
    session = LiveSession(ToneReader(), background=False)
    stream(session, audio, 16_000)
    committed = [s for s in session.segments]
    assert len(committed) >= 6  # the last sentence may still be waiting for its pause
    for segment in committed:
        start, end = (int(t * 16_000) for t in (segment.start_s, segment.end_s))
        assert np.abs(audio[max(0, end - 160) : end + 160]).max() < 1e-3  # cut in silence
        assert segment.text == text_of(read(audio[start:end], 16_000)) and segment.text.endswith(".")
    assert words_of(session.finish().text) == [w for s in spoken for w in s]


def stream_to_a_stop(last_words: int, heard_all: bool):
    """Ten sentences, then ``last_words`` more, the recording stopped in the middle of the last word;
    ``heard_all``: the worker's last run heard the audio to its end (else 0.2 s came after it)."""
    spoken = sentences(10, seed=2) + [VOCABULARY[:last_words]]
    audio = speak(spoken, pause_s=0.5)
    cut = audio.size - int(0.5 * 16_000)
    reader = ToneReader()
    session = LiveSession(reader, background=False)
    late = 0 if heard_all else int(0.2 * 16_000)
    stream(session, audio[: cut - late], 16_000)
    while session.step() is not None:  # the worker catches up with what it was sent
        pass
    session.feed((audio[cut - late : cut] * 32767).astype(np.int16), 16_000)
    return audio[:cut], reader, session


@pytest.mark.parametrize("last_words", [4, 18], ids=["short tail", "long tail"])
def test_the_final_run_decodes_only_the_tail_after_what_is_settled(last_words):
    audio, reader, session = stream_to_a_stop(last_words, heard_all=False)
    tail_start, agreed = session.window.start / 16_000, len(session._agreed)
    latest = len(session._history[-1][0])  # the newest run's tokens; it missed the last 0.2 s
    runs = len(reader.calls)
    final = session.finish()
    assert len(reader.calls) == runs + 1 and final.decoded
    kind, seconds, forced = reader.calls[-1]
    # Greedy as the live text is, the tail alone, from the newest run's words but its last few
    # (a word its audio's end cut off), or from the agreed start if that is longer.
    assert kind == "update" and seconds == pytest.approx(audio.size / 16_000 - tail_start)
    assert forced == max(agreed, latest - END_MARGIN_TOKENS) and (forced or latest <= END_MARGIN_TOKENS)
    assert seconds < 6.5  # the last sentence alone
    assert final.text == text_of(read(audio, 16_000))


def test_a_tail_the_last_run_heard_to_its_end_costs_no_final_run():
    audio, reader, session = stream_to_a_stop(4, heard_all=True)
    runs = len(reader.calls)
    final = session.finish()
    assert len(reader.calls) == runs and not final.decoded and final.buffer_seconds > 0
    assert final.text == text_of(read(audio, 16_000))


def test_after_a_last_pause_the_final_update_has_no_tail_and_runs_nothing():
    spoken = sentences(3, seed=4)
    audio = speak(spoken, pause_s=0.5, lead_s=1.0)  # a second of silence after the last word
    reader = ToneReader()
    session = LiveSession(reader, background=False)
    stream(session, audio, 16_000)
    while session.step() is not None:
        pass
    runs = len(reader.calls)
    final = session.finish()
    assert len(reader.calls) == runs and final.buffer_seconds == 0.0
    assert words_of(final.text) == [w for s in spoken for w in s]


def test_a_last_run_cut_off_by_its_token_cap_is_continued_from_its_words():
    spoken = sentences(3, seed=2) + [VOCABULARY[:18]]
    audio = speak(spoken, pause_s=0.5)[: -int(0.5 * 16_000)]
    last = audio.size - int(18 * (WORD_S + 0.06) * 16_000)  # where the last sentence begins, about
    reader = ToneReader()
    session = LiveSession(reader, background=False)
    stream(session, audio[:last], 16_000)
    session.feed((audio[last:] * 32767).astype(np.int16), 16_000)  # the last sentence arrives at once
    while session.step() is not None:  # its only run hears it all but stops at its token cap
        pass
    kind, _, forced_before = reader.calls[-1]
    assert kind == "update" and forced_before + session.tail_tokens < 18
    final = session.finish()
    kind, _, forced = reader.calls[-1]
    assert kind == "update" and final.decoded
    assert forced == forced_before + session.tail_tokens  # that run's words are kept, not decoded again
    assert final.text == text_of(read(audio, 16_000))


def test_a_commit_starts_the_next_window_shortly_before_the_speech_resumes():
    from tone_words import WORD_S

    spoken, pause_s, gap_s = sentences(6, seed=4), 1.2, 0.06
    audio = speak(spoken, pause_s=pause_s, gap_s=gap_s)
    chunks = iter(int16_chunks(audio, 16_000, 0.1))

    class Busy(ToneReader):
        """A model slow to commit: a second of audio arrives while it decodes a piece."""

        def complete(self, *args, should_stop=None):
            result = ToneReader.complete(self, *args)
            for chunk in itertools.islice(chunks, 10):
                session.feed(chunk, 16_000)
            return result

    session = LiveSession(Busy(), background=False)
    for n, chunk in enumerate(chunks):
        session.feed(chunk, 16_000)
        if n % 3 == 2:
            session.step(), session.step()
    onsets, at = [], 0.3
    for sentence in spoken:
        onsets.append(at)
        at += len(sentence) * WORD_S + (len(sentence) - 1) * gap_s + pause_s
    starts = [segment.start_s for segment in session.segments]
    assert len(starts) >= 4
    for start in starts[1:]:  # no long silence in front of a piece: the model would invent words
        onset = min(o for o in onsets if o >= start - 1e-6)
        assert onset - start <= LEAD_S + 0.12  # (a 0.1 s chunk may begin with silence too)
    assert words_of(session.finish().text) == [w for sentence in spoken for w in sentence]


class SlowBeams(ToneReader):
    """A reader whose ``complete`` (the model's own decoding) takes ``shares[n]`` × the audio it
    hears on its n-th call, on the session's clock (the last share from then on); its greedy
    ``update`` takes no time."""

    def __init__(self, clock, shares):
        super().__init__()
        self.clock, self.shares, self.completes = clock, shares, 0

    def complete(self, samples, rate, continue_from, max_new_tokens, should_stop=None):
        self.clock.now += self.shares[min(self.completes, len(self.shares) - 1)] * samples.size / rate
        self.completes += 1
        return ToneReader.complete(self, samples, rate, continue_from, max_new_tokens)


@pytest.mark.parametrize("shares, beam_commits", [
    ([1.0], 2),  # too slow from the start: greedy after the second commit
    ([1.0, 0.1, 1.0], 3),  # the second slow one of three
    ([1.0, 0.1], None),  # a slow first run alone never switches
])
def test_commits_decode_greedily_once_the_models_own_decoding_falls_behind_the_speech(monkeypatch, shares,
                                                                                     beam_commits):
    from tiny_audio.live import streaming

    clock = type("Clock", (), {"now": 0.0})()
    monkeypatch.setattr(streaming.time, "perf_counter", lambda: clock.now)
    spoken = sentences(6, seed=3)
    audio = speak(spoken, pause_s=0.5)
    reader = SlowBeams(clock, shares)
    session = LiveSession(reader, background=False)
    stream(session, audio, 16_000)
    commits = [kind for kind, _, forced in reader.calls if forced == 0 and kind == "complete"]
    assert len(session.segments) >= 5
    if beam_commits is None:
        assert not session.greedy_commits and len(commits) == len(session.segments)
    else:
        assert session.greedy_commits and len(commits) == beam_commits
    assert words_of(session.finish().text) == [w for s in spoken for w in s]


class LoopingFinal(ToneReader):
    """A decoder that, decoding to the end, says its last words over and over."""

    def complete(self, samples, rate, continue_from, max_new_tokens, should_stop=None):
        heard = ToneReader.complete(self, samples, rate, continue_from, max_new_tokens)
        loop = [t for t in heard.token_ids if t != STOP][-4:] * 5
        return result_of(heard.token_ids + loop, heard.duration_s)


def test_a_final_run_that_loops_never_replaces_the_live_text():
    spoken = [["amber", "birch", "cedar", "delta", "ember", "fjord", "grove"]]
    audio = speak(spoken, lead_s=0.3)[: -int(0.3 * 16_000)]  # no pause at the end: nothing committed
    session = LiveSession(LoopingFinal(), background=False)
    live = stream(session, audio, 16_000)[-1]
    final = session.finish()
    assert final.text == live and words_of(final.text) == spoken[0]


class NoFullStops(ToneReader):
    full_stops = False  # as a model that never punctuates, or a pause at a comma


@pytest.mark.parametrize("pause_s, commits", [(0.5, False), (1.0, True)])
def test_a_short_pause_commits_only_where_the_text_ends_a_sentence(pause_s, commits):
    spoken = sentences(4, seed=3)
    session = LiveSession(NoFullStops(), background=False, long_window_s=20.0)
    stream(session, speak(spoken, pause_s=pause_s), 16_000)
    assert bool(session.segments) is commits  # 0.5 s: a comma, it may be; 1 s: a piece ends anyway
    assert words_of(session.finish().text) == [w for s in spoken for w in s]


def test_cut_loop_keeps_speech_and_cuts_a_repeating_decoder():
    assert cut_loop("the old man walked down the hill") == ("the old man walked down the hill", False)
    looped = "please send the weekly report please send the weekly report please send the weekly"
    assert cut_loop(looped) == ("please send the weekly report", True)
    assert cut_loop("no no no no we never") == ("no", True)
    assert cut_loop("it is what it is") == ("it is what it is", False)


def test_silence_costs_no_model_run_and_is_not_kept(tiny_model):
    session = LiveSession(tiny_model, background=False)
    for _ in range(10):
        assert session.feed(np.zeros(8000, dtype=np.int16), 16_000) is False
        assert session.step() is None
    assert session.model_runs == 0 and session.window.seconds == pytest.approx(LEAD_S)
    assert session.heard_seconds == pytest.approx(5.0)
    assert session.feed((speechlike(1.0) * 32767).astype(np.int16), 16_000) is True
    assert session.step() is not None and session.model_runs == 1
    assert session.window.seconds == pytest.approx(LEAD_S + 1.0)


def test_a_change_of_rate_mid_stream_loses_nothing(tiny_model):
    session = LiveSession(tiny_model, background=False)
    session.feed(speechlike(1.0, rate=48_000), 48_000)
    session.feed(speechlike(0.5), 16_000)
    assert session.window.rate == 48_000 and session.window.seconds == pytest.approx(1.5)


def test_updates_decode_a_bounded_tail_after_what_runs_agreed_on():
    words = VOCABULARY[:14]
    audio = speak([words], lead_s=0.0)
    reader = ToneReader()
    session = LiveSession(reader, background=False, tail_tokens=2)
    step = int(0.3 * 16_000)
    agreed = []
    for end in range(step, audio.size - int(0.3 * 16_000), step):  # no pause yet: no commit
        session.feed(audio[end - step : end], 16_000)
        update = session.step()
        if update is not None:
            agreed.append(update.agreed_tokens)
            assert len(update.result.token_ids) - reader.calls[-1][2] <= 2  # never more than tail_tokens new
    assert agreed == sorted(agreed) and agreed[-1] >= 6  # the agreed start only grows
    forced = [f for kind, _, f in reader.calls]
    assert forced == sorted(forced) and forced[-1] > 0


def test_background_worker_always_takes_the_newest_audio(tiny_model, monkeypatch):
    session = LiveSession(tiny_model)  # with its worker thread, idle until speech arrives
    transcribe = session.runner.updates_model.transcribe

    def slow_transcribe(*args, **kwargs):  # a model far slower than the audio arrives
        time.sleep(0.2)
        return transcribe(*args, **kwargs)

    monkeypatch.setattr(session.runner.updates_model, "transcribe", slow_transcribe)
    try:
        rising = speechlike(8.0)[: 4 * 16_000]  # louder and louder: no pause to commit at
        for chunk in int16_chunks(rising, 16_000, seconds=0.25):
            session.feed(chunk, 16_000)
            time.sleep(0.01)  # faster than real time: the model falls behind
        deadline = time.time() + 30
        while (session.latest() is None or session.latest().buffer_seconds < 4.0) and time.time() < deadline:
            time.sleep(0.05)
        latest = session.latest()
        assert latest is not None and latest.buffer_seconds == pytest.approx(4.0)
        assert session.model_runs <= 4  # 16 chunks in ~0.2 s: runs for stale windows were skipped
    finally:
        session.close()


def test_a_failing_run_stops_the_worker_with_its_reason(tiny_model, monkeypatch):
    session = LiveSession(tiny_model)
    monkeypatch.setattr(session.runner.updates_model, "transcribe",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("out of memory")))
    session.feed(speechlike(1.5), 16_000)
    session._worker.join(timeout=10)
    assert not session._worker.is_alive() and session.error == "out of memory"


def test_common_prefix():
    assert common_prefix([1, 2, 3, 4], [1, 2, 5]) == [1, 2]
    assert common_prefix([], [1]) == []


def test_a_copy_in_another_dtype_is_made_once_and_leaves_the_model_alone(tiny_model):
    copy = tiny_model.in_dtype(torch.bfloat16)
    assert copy is not tiny_model and copy.dtype == torch.bfloat16 and tiny_model.in_dtype(tiny_model.dtype) is tiny_model
    assert next(copy.decoder.parameters()).dtype == torch.bfloat16
    assert next(tiny_model.decoder.parameters()).dtype == torch.float32  # the model itself is untouched
    assert tiny_model.in_dtype(torch.bfloat16) is copy  # made once, shared
    assert copy.transcribe(speechlike(1.5), max_new_tokens=3).token_ids  # it runs in bfloat16


def test_runs_use_the_bfloat16_copy_where_the_cpu_has_it_and_commits_the_models_decoding(tiny_model, monkeypatch):
    from tiny_audio.live import runner

    session = LiveSession(tiny_model, background=False)
    expected = tiny_model.in_dtype(torch.bfloat16) if runner.cpu_has_native_bfloat16() else tiny_model
    assert session.runner.updates_model is expected
    assert LiveSession(tiny_model, background=False, fast_updates=False).runner.updates_model is tiny_model
    session.feed(speechlike(1.5), 16_000)
    update = session.step()
    assert update.result.token_ids and update.result.beams == 1  # the live text: greedy
    monkeypatch.setattr(tiny_model, "beams", 3)  # a model that decodes with beam search by default
    commit = session.runner.complete(speechlike(1.5), 16_000, [], 4)  # what a pause commits: its decoding
    assert commit.beams == 3 and commit.dtype == str(expected.dtype).removeprefix("torch.")
    final = session.finish()  # the tail after Stop: greedy, as the live text it continues
    assert final.final and final.decoded and final.result.beams == 1


SENTENCES = (
    "The morning was cold and bright when the old man left his house.",
    "He walked down the hill to the village with a basket on his arm.",
    "The baker was already standing at the door of her shop.",
    "She gave him two loaves of bread and a small cake for his grandson.",
    "On the way back he stopped to rest under a tall oak tree.",
)


@pytest.mark.integration
def test_nano_streams_sentences_as_well_as_it_transcribes_them_one_by_one():
    from tiny_audio import load_model
    from tiny_audio.pipeline.audio import resample
    from tiny_audio.training.evaluate import normaliser, word_edits
    from tiny_audio.training.tts import synthesize

    nano = load_model()
    clips = [resample(*synthesize("espeak-ng", "en-us", text, {"speed_wpm": 175, "pitch": 50}), 16_000)
             for text in SENTENCES]
    pause = np.zeros(int(0.5 * 16_000), dtype=np.float32)
    audio = np.concatenate([part for clip in clips for part in (clip, pause)])
    session = LiveSession(nano, background=False)
    stream(session, audio, 16_000)
    final = session.finish()

    normalise = normaliser()
    reference = normalise(" ".join(SENTENCES))
    live_errors, words = word_edits(reference, normalise(final.text))
    one_by_one = " ".join(nano.transcribe(clip, trace=False).text for clip in clips)
    offline_errors, _ = word_edits(reference, normalise(one_by_one))
    print(f"live: {final.text!r} ({live_errors} errors in {words} words); one by one: {offline_errors}")
    assert len(session.segments) >= len(SENTENCES) - 1  # committed at the pauses between sentences
    assert live_errors <= 1.2 * offline_errors + 1
    said = normalise(final.text).split()
    phrases = [" ".join(said[i : i + 4]) for i in range(len(said) - 3)]
    assert all(phrases.count(p) <= reference.count(p) or phrases.count(p) == 1 for p in phrases)  # no repeats


class Stalling(ToneReader):
    """A reader whose first update takes ``hold_s`` unless it is cancelled first."""

    def __init__(self, hold_s: float):
        super().__init__()
        self.hold_s = hold_s
        self.started = threading.Event()
        self.cancelled = 0

    def update(self, samples, rate, continue_from, max_new_tokens, should_stop=None):
        from tiny_audio.pipeline.decoding import Cancelled

        if not self.started.is_set():
            self.started.set()
            until = time.monotonic() + self.hold_s
            while time.monotonic() < until:
                if should_stop is not None and should_stop():
                    self.cancelled += 1
                    raise Cancelled("cancelled")
                time.sleep(0.01)
        return ToneReader.update(self, samples, rate, continue_from, max_new_tokens)


@pytest.mark.parametrize("newer_audio", [True, False])
def test_stop_cancels_an_update_only_when_newer_audio_came_after_it(newer_audio):
    spoken = [["amber", "birch", "cedar", "delta"]]
    audio = speak(spoken, lead_s=0.3)[: -int(0.3 * 16_000)]  # no pause at the end: no commit
    split = audio.size - int(0.4 * 16_000) if newer_audio else audio.size
    reader = Stalling(hold_s=30.0 if newer_audio else 0.3)
    session = LiveSession(reader)
    session.feed(audio[:split], 16_000)
    assert reader.started.wait(10)
    if newer_audio:
        session.feed(audio[split:], 16_000)  # arrives while the update runs: that run is stale
    final = session.finish()
    assert reader.cancelled == (1 if newer_audio else 0)
    assert words_of(final.text) == spoken[0] and session.error is None
