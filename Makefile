# bgnn-deploy: `make demo` and `make test` do all set-up on a fresh Debian 12 + Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
OUT := out/demo

# The demo's model: a small binary DGCNN (BF2, Hamming k-NN in layers 2-4) that
# trains on 2 cores in about two minutes.
DEMO_MODEL := $(OUT)/bin-dgcnn-bf2.pt
DEMO_TRAIN_FLAGS := --points 256 --k 10 --widths 32,32,64,128 --emb 256 --mlp 256,128 \
	--knn-metric hamming --dropout 0.3 --epochs 12 --samples 512 --test-samples 128 --seed 0

.PHONY: demo test bench lint sanitize fuzz system-deps venv clean

DEMO_CONVERTED := $(OUT)/converted/report.json $(OUT)/converted-fast/report.json
# out/demo is the demo's own: a re-run (a newer model, `make -B`) writes over its earlier
# files with --overwrite, which replaces only the files each command writes.

demo: system-deps venv $(DEMO_MODEL) $(DEMO_CONVERTED)
	@echo "== evaluate the demo model on held-out synthetic clouds (PyTorch)"
	$(BIN)/bgnn-deploy evaluate $(DEMO_MODEL) --samples 256
	@echo "== the same clouds through the converted LCE flatbuffer (host interpreter)"
	$(BIN)/bgnn-deploy evaluate $(OUT)/converted/binary.tflite --samples 256
	@echo "== build the native runner for this host and for an emulated aarch64 board"
	$(BIN)/bgnn-deploy build --target local
	$(BIN)/bgnn-deploy build --target qemu-aarch64
	@echo "== the runner's outputs against the host interpreter, on both"
	$(BIN)/bgnn-deploy verify $(OUT)/converted/binary.tflite --target local --samples 8
	$(BIN)/bgnn-deploy verify $(OUT)/converted-fast/binary.tflite --reference $(OUT)/converted/binary.tflite --target local --samples 8
	$(BIN)/bgnn-deploy verify $(OUT)/converted-fast/binary.tflite --reference $(OUT)/converted/binary.tflite --target qemu-aarch64 --samples 4
	@echo "== binary (the fast path: every layer in the bit domain) vs float through the runner"
	$(BIN)/bgnn-deploy run $(OUT)/converted-fast/binary.tflite --target local --num-runs 50 --energy
	@echo "== where the time goes, per op type and node (the profiler's own cost is in these figures)"
	$(BIN)/bgnn-deploy run $(OUT)/converted-fast/binary.tflite --target local --num-runs 20 --min-secs 0.5 --profile-ops
	$(BIN)/bgnn-deploy run $(OUT)/converted-fast/binary.tflite --target qemu-aarch64 --num-runs 5 --profile-ops
	@echo "== the report of the three runs above (stored in the results database)"
	$(BIN)/bgnn-deploy report --last 3 -o $(OUT)/report --overwrite
	@echo "== done: model $(DEMO_MODEL), converted models in $(OUT)/converted/, report $(OUT)/report/index.html"

$(OUT)/converted/report.json: $(DEMO_MODEL)
	@echo "== convert to an LCE flatbuffer + float baseline and prove parity"
	$(BIN)/bgnn-deploy convert $(DEMO_MODEL) -o $(OUT)/converted --samples 16 --overwrite

$(OUT)/converted-fast/report.json: $(DEMO_MODEL)
	@echo "== the fast path for our runner: every layer in the bit domain (convert --fuse), proved against PyTorch and the LCE form"
	$(BIN)/bgnn-deploy convert $(DEMO_MODEL) -o $(OUT)/converted-fast --fuse --samples 8 --overwrite

$(DEMO_MODEL): | $(STAMP)
	@echo "== train a small binary DGCNN on synthetic point clouds ($(DEMO_MODEL))"
	$(BIN)/bgnn-deploy train bin-dgcnn-bf2 $(DEMO_TRAIN_FLAGS) -o $@ --overwrite

test: system-deps venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The benchmark suite (issues 7 and 11): BENCHMARKS.md, its plots and benchmarks/results/benchmarks.json,
# every figure measured in this run (under 20 minutes on 2 cores). Not part of `make test`.
BENCH_STAMP := $(VENV)/.bench-$(shell sha1sum pyproject.toml | cut -c1-12)

bench: system-deps venv $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@rm -f $(VENV)/.bench-* && touch $@

# The runner's native code under ASan + UBSan (tests/targets/fuzzing.py): the kernel tests,
# the op fuzzer's committed corpus and regressions replayed, and the whole runner end to
# end on converted models and bad inputs (tests/targets/sanitized_runner.py).
sanitize: system-deps venv
	$(BIN)/python -m tests.targets.fuzzing sanitize

# The op fuzzer (targets/runner/fuzz/fuzz_ops.c) for FUZZ_SECS seconds; new inputs and any
# crashing one go to out/fuzz/. `make test` fuzzes for a bounded time too.
FUZZ_SECS ?= 600
fuzz: system-deps venv
	$(BIN)/python -m tests.targets.fuzzing fuzz --seconds $(FUZZ_SECS) --work out/fuzz

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

venv: $(STAMP)

# System packages: only what is missing, so a second run does nothing. qemu-user and
# the arm64 cross libc/libstdc++ run the aarch64 runner here (the emulated board);
# openssh-server's sshd on 127.0.0.1 is the tests' SSH board; clang builds the sanitized
# native tests; chromium (headless) shows the report at desktop and phone widths.
APT := $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get
system-deps:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
		|| { echo "error: bgnn-deploy needs Python 3.11 (set PYTHON=...)"; exit 2; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
		echo "== installing python3-venv (apt)"; \
		$(APT) update -q && $(APT) install -y -q python3-venv; }
	@command -v qemu-aarch64 >/dev/null && test -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 \
		&& test -x /usr/sbin/sshd || { \
		echo "== installing qemu-user, the arm64 cross libraries and openssh-server (apt)"; \
		$(APT) update -q && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q \
			qemu-user libc6-arm64-cross libstdc++6-arm64-cross openssh-server; }
	@command -v clang >/dev/null || { \
		echo "== installing clang (apt): ASan, UBSan and libFuzzer for make sanitize / fuzz"; \
		$(APT) update -q && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q clang; }
	@command -v chromium >/dev/null || { \
		echo "== installing chromium (apt): the report's test opens the page in headless Chromium"; \
		$(APT) update -q && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q chromium; }

# torch is pinned and installed first: an unpinned resolve would pull a CUDA build.
$(STAMP): pyproject.toml | system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
