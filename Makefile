# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (again only when setup.cfg changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# llama-cpp-python builds from source (about 6-10 minutes on 2 cores; pip caches the wheel).
# A -march=native build crashes on some Xeons (AMX/AVX-512 paths): build for plain AVX2.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

.PHONY: demo test lint types unit install clean chromium cpp cpp-deps bench-cpp

demo: $(STAMP)
	$(BIN)/npc-bridge demo

test: lint types unit

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "NPC Bridge needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (the first time builds llama.cpp: several minutes)..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,embedded]'
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
