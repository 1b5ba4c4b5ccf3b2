# tunesmith: `make demo` sets everything up and makes the demo song; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# fluidsynth + soundfont: rendering; postgresql: the service's PostgreSQL tests start a throw-away
# server; chromium: the web studio's end-to-end browser tests (Playwright drives it).
APT_PACKAGES = fluidsynth fluid-soundfont-gm postgresql chromium lilypond

.PHONY: setup system-deps venv demo test lint bench clean

setup: system-deps venv

# Debian/Ubuntu packages (needs root, as on CI); skipped when already installed.
system-deps:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi

$(BIN)/tunesmith: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	# basic-pitch's note model for `transcribe --polyphonic`; --no-deps: its declared deps pull TensorFlow
	$(BIN)/pip install -q --no-deps basic-pitch==0.4.0
	@touch $@

venv: $(BIN)/tunesmith

demo: setup
	$(BIN)/tunesmith demo -o demo-song

test: setup
	$(BIN)/ruff check src tests bench training
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check src tests bench training

# Benchmarks need the bench extra (basic-pitch, mir_eval) and ../shared/data.
bench: setup
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/pip install -q --no-deps basic-pitch==0.4.0
	$(BIN)/python bench/transcription.py
	$(BIN)/python bench/polyphony_check.py
	$(BIN)/python bench/streaming.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/polyphonic.py
	$(BIN)/python bench/harmony.py

clean:
	rm -rf $(VENV) demo-song .pytest_cache .ruff_cache
