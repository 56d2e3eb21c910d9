#!/bin/sh
# tests/install_test.sh SOURCE_DIR BUILD_DIR WORK_DIR [static STATIC_PREFIX]
# Installs the built library into WORK_DIR/prefix, then builds and runs examples/example.c
# against it twice: through find_package(simdattn) and through pkg-config. With "static", takes
# the static libsimdattn (BUILD_SHARED_LIBS=OFF) installed at STATIC_PREFIX by ctest
# library_only_no_cxx_no_benchmark (tests/library_only_test.sh: one static build serves both
# tests) and links statically.
set -eu
src=$1 build=$2 work=$3 mode=${4:-shared}
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
if [ "$mode" = static ]; then
  prefix=${5:?static mode needs the prefix of the static install}
  ls "$prefix"/lib*/libsimdattn.a >/dev/null || { echo "FAIL: no static libsimdattn.a under $prefix"; exit 1; }
else
  cmake --install "$build" --prefix "$prefix" >"$work/install.log"
fi
libdir=$(ls -d "$prefix"/lib*/ | head -n 1)
echo "installed into $prefix ($mode):"; (cd "$prefix" && find . -type f | sort)

# 1. find_package
cmake -S "$src/examples" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work/ex.log"
cmake --build "$work/cmake" >>"$work/ex.log"
"$work/cmake/example"
"$work/cmake/decode"
"$work/cmake/serving"

# 2. pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
if [ "$mode" = static ]; then
  flags=$(pkg-config --cflags --libs --static simdattn)
  cc -o "$work/example-pc" "$src/examples/example.c" -Wl,-Bstatic -lsimdattn -Wl,-Bdynamic $flags -lm
else
  flags=$(pkg-config --cflags --libs simdattn)
  cc -o "$work/example-pc" "$src/examples/example.c" $flags -lm -Wl,-rpath,"$libdir"
  # the README's consumer build, word for word (a fresh shell: PKG_CONFIG_PATH exported first)
  (cd "$work" && export PKG_CONFIG_PATH="$libdir/pkgconfig" &&
   cc "$src/examples/decode.c" $(pkg-config --cflags --libs simdattn) -lm \
      -Wl,-rpath,"$(pkg-config --variable=libdir simdattn)" -o decode-pc && ./decode-pc)
fi
echo "pkg-config: $flags"
"$work/example-pc"
[ "$(pkg-config --variable=libdir simdattn)" = "${libdir%/}" ] || { echo "libdir in simdattn.pc is wrong"; exit 1; }
# one version: the installed header's macros, the .pc file's and the CMake package's
hv=$(sed -n 's/^#define SIMDATTN_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$prefix/include/simdattn.h" | paste -sd.)
pv=$(pkg-config --modversion simdattn)
cv=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' "$libdir/cmake/simdattn/simdattnConfigVersion.cmake")
[ "$hv" = "$pv" ] && [ "$hv" = "$cv" ] || { echo "versions differ: header $hv, .pc $pv, CMake package $cv"; exit 1; }
echo "version $hv in the header, the .pc file and the CMake package"
echo "install test ($mode): find_package and pkg-config builds both ran"
