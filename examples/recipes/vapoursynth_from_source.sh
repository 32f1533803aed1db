#!/usr/bin/env bash
# VapourSynth built from source for vfi.vapoursynth, where no package of it fits (Debian
# has none; PyPI's `vapoursynth` up to R73 is only the Python binding, built against a
# core library already installed).
#
#   bash examples/recipes/vapoursynth_from_source.sh ZIMG_SRC VAPOURSYNTH_SRC [PREFIX]
#
# ZIMG_SRC: a zimg source tree with its graphengine submodule in ZIMG_SRC/graphengine
# (`git clone --recursive https://github.com/sekrit-twc/zimg`). VAPOURSYNTH_SRC: a
# VapourSynth source tree up to R73, the last release built with autotools and the last
# whose binding takes Python older than 3.12 (`git clone -b R73
# https://github.com/vapoursynth/vapoursynth`). PREFIX (default ~/.local/vapoursynth):
# where zimg, libvapoursynth and vspipe go; they find each other without LD_LIBRARY_PATH.
#
# The Python binding is built from VAPOURSYNTH_SRC (so it matches the core) and installed
# into $PYTHON's environment (default: python3), or into the folder $PYTHON_TARGET if set
# (then put it on PYTHONPATH). JOBS (default 2): make's jobs. Needs a C++17 compiler,
# make, autoconf, automake, libtool and pkg-config; pip fetches Cython to build the
# binding (or install `cython>=3.1` first and set NO_BUILD_ISOLATION=1). The trees are
# built in place.
set -euo pipefail

die() { echo "Error: $*" >&2; exit 2; }

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 ZIMG_SRC VAPOURSYNTH_SRC [PREFIX]"
ZIMG=$(cd "$1" 2>/dev/null && pwd) || die "no zimg source tree at $1"
VS=$(cd "$2" 2>/dev/null && pwd) || die "no VapourSynth source tree at $2"
PREFIX=${3:-$HOME/.local/vapoursynth}
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-2}

[ -f "$ZIMG/configure.ac" ] && [ -f "$ZIMG/src/zimg/api/zimg.h" ] || die "$ZIMG is not a zimg source tree"
[ -f "$ZIMG/graphengine/include/graphengine/graph.h" ] \
  || die "$ZIMG/graphengine is empty: zimg needs its submodule (git submodule update --init graphengine)"
[ -f "$VS/VAPOURSYNTH_VERSION" ] || die "$VS is not a VapourSynth source tree"
release=$(awk '/VS_CURRENT_RELEASE /{print $3}' "$VS/VAPOURSYNTH_VERSION")
[ -f "$VS/configure.ac" ] && [ -f "$VS/setup.py" ] \
  || die "VapourSynth R$release builds with Meson and needs Python 3.12 or newer; this recipe builds R73 and earlier"
for tool in autoreconf libtoolize pkg-config make c++; do
  command -v "$tool" >/dev/null || die "$tool is needed (Debian: apt-get install autoconf automake libtool pkg-config build-essential)"
done
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip"

mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
# the Python that vspipe embeds: its own pkg-config files and shared library
pylib=$("$PYTHON" -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))")
shared=$("$PYTHON" -c "import sysconfig; print(sysconfig.get_config_var('Py_ENABLE_SHARED') or 0)")
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig:$pylib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib -Wl,-rpath,$pylib ${LDFLAGS:-}"
script=()
[ "$shared" = 1 ] || script=(--disable-vsscript --disable-vspipe)  # vspipe needs a shared libpython

echo "== zimg -> $PREFIX"
(cd "$ZIMG" && ./autogen.sh && ./configure --prefix="$PREFIX" --disable-static && make -j"$JOBS" && make install)

echo "== VapourSynth R$release core -> $PREFIX"
(cd "$VS" && ./autogen.sh && ./configure --prefix="$PREFIX" --disable-static --disable-python-module \
   PYTHON="$(command -v "$PYTHON")" "${script[@]}" && make -j"$JOBS" && make install)

echo "== VapourSynth R$release Python binding"
pip=("$PYTHON" -m pip install --no-deps --force-reinstall)
[ -n "${PYTHON_TARGET:-}" ] && pip+=(--target "$PYTHON_TARGET")
[ -n "${NO_BUILD_ISOLATION:-}" ] && pip+=(--no-build-isolation)
CFLAGS="-I$PREFIX/include/vapoursynth ${CFLAGS:-}" "${pip[@]}" "$VS"

echo "== check"
PYTHONPATH="${PYTHON_TARGET:+$PYTHON_TARGET:}${PYTHONPATH:-}" "$PYTHON" -c \
  "import vapoursynth as vs; c = vs.core.std.BlankClip(length=3); print(vs.__version__, c.num_frames, 'frames')"
echo "VapourSynth R$release is in $PREFIX${PYTHON_TARGET:+ (binding: PYTHONPATH=$PYTHON_TARGET)}"
[ "$shared" = 1 ] && echo "vspipe: $PREFIX/bin/vspipe"
exit 0
