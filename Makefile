# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (again only when setup.cfg or the llama.cpp
# build flags change).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Named after the llama.cpp build: other build flags install that build into the venv.
STAMP = $(VENV)/.installed-$(notdir $(LLAMA_WHEELS))

# llama-cpp-python builds from source (about 5-10 minutes on 2 cores). A -march=native build
# dies with SIGILL on Xeon VMs that list AMX but do not enable it, so the flags are chosen
# here: AVX2, plus AVX-512 and VNNI where /proc/cpuinfo lists them (prompts evaluate 1.4x
# faster with them: docs/latency.md). Never AMX. Without OpenMP: ggml's own threads spin
# at the barriers inside a step and are gone between steps, and a turn's first audio came
# in 0.8-0.9x the time of the OpenMP build's (docs/latency.md, session 11). The wheel is
# kept per set of flags in LLAMA_WHEELS, so a change of flags (or of machine) builds again
# and nothing else does.
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has = $(filter $(1),$(CPU_FLAGS))
AVX512_ARGS := $(if $(and $(call has,avx512f),$(call has,avx512bw),$(call has,avx512vl)),-DGGML_AVX512=ON \
  $(if $(call has,avx512_vnni),-DGGML_AVX512_VNNI=ON) $(if $(call has,avx512_bf16),-DGGML_AVX512_BF16=ON))
VNNI_ARGS := $(if $(call has,avx_vnni),-DGGML_AVX_VNNI=ON)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON $(strip $(AVX512_ARGS) $(VNNI_ARGS))
LLAMA_PIN := $(shell grep -m1 -o 'llama-cpp-python==[0-9.]*' setup.cfg)
LLAMA_WHEELS ?= $(HOME)/.cache/npc-bridge/wheels/llama-$(shell echo '$(LLAMA_PIN) $(CMAKE_ARGS)' | sha1sum | cut -c1-12)

.PHONY: demo test lint types unit install clean chromium cpp cpp-deps bench-cpp

demo: $(STAMP)
	$(BIN)/npc-bridge demo

test: lint types unit

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "NPC Bridge needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	@if ! ls $(LLAMA_WHEELS)/*.whl >/dev/null 2>&1; then \
	  echo "Building llama.cpp for this CPU ($(CMAKE_ARGS)): several minutes, once..."; \
	  $(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-cache-dir \
	    -w $(LLAMA_WHEELS) '$(LLAMA_PIN)'; \
	fi
	@echo "Installing into $(VENV)..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --find-links $(LLAMA_WHEELS) \
	  -e '.[dev,embedded]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
	  $(LLAMA_WHEELS)/*.whl
	rm -f $(VENV)/.installed*
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) chromium cpp
	$(BIN)/python -m pytest -q

# The face viewer's tests take screenshots in headless Chromium (Debian's package). As root
# it is installed when missing; otherwise those tests skip and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing chromium for the face viewer tests..."; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	      || echo "could not install chromium: the face viewer tests will skip"; \
	  else \
	    echo "chromium is missing and this is not root: the face viewer tests will skip"; \
	  fi; \
	fi

# The C++ client (plugin_stubs/cpp) and its npc_talk example, built with CMake into build/cpp
# from Debian's packages. As root they are installed when missing; otherwise its tests skip.
CPP_PACKAGES := cmake g++ libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
CPP_READY := command -v cmake >/dev/null && command -v c++ >/dev/null \
  && [ -f /usr/include/zmq.hpp ] && [ -f /usr/include/msgpack.hpp ]

cpp-deps:
	@if ! { $(CPP_READY); }; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing $(CPP_PACKAGES) for the C++ client..."; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CPP_PACKAGES); } \
	      || echo "could not install the C++ packages: the C++ client tests will skip"; \
	  else \
	    echo "the C++ toolchain or libzmq/cppzmq/msgpack-cxx headers are missing and this is not root: the C++ client tests will skip"; \
	  fi; \
	fi

cpp: cpp-deps
	@if $(CPP_READY); then \
	  cmake -S plugin_stubs/cpp -B build/cpp -DCMAKE_BUILD_TYPE=Release >/dev/null \
	    && cmake --build build/cpp -j 2; \
	else \
	  echo "skipping the C++ client build (packages missing)"; \
	fi

# C++ against Python: text round trips through the echo brain, both clients in one run.
bench-cpp: $(STAMP) cpp
	$(BIN)/npc-bridge bench cpp

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
