#!/bin/sh
# tests/library_only_test.sh SOURCE_DIR WORK_DIR: a library-only build on a machine without Google
# Benchmark and without a C++ compiler. Configures SOURCE_DIR with -DSIMDATTN_BUILD_TOOLS=OFF
# -DSIMDATTN_BUILD_TESTS=OFF while both are hidden (CMAKE_CXX_COMPILER points nowhere, so enabling
# C++ fails; find_package(benchmark) is disabled, so asking for it fails), builds and installs it,
# checks that only the library, its header and its CMake / pkg-config files were installed, and
# builds examples/example.c against the installed package.
# The build is also the static one (-DBUILD_SHARED_LIBS=OFF): ctest install_static consumes its
# install (WORK_DIR/prefix) through find_package and pkg-config --static, so CI compiles the
# library twice (the shared build, this one), not three times (a full library build is 60-90 s of
# a 2-core CI machine). It is built unoptimized (Debug: 8 s where Release took 64 s alone and 141 s
# beside the other tests, the longest of CI's first phase on Zen 5): what it proves is the configure,
# the install's contents and the installed package's use, not the kernels' code generation.
set -eu
src=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
cmake -S "$src" -B "$work/lib" -DCMAKE_BUILD_TYPE=Debug -DSIMDATTN_BUILD_TOOLS=OFF -DSIMDATTN_BUILD_TESTS=OFF \
      -DBUILD_SHARED_LIBS=OFF \
      -DCMAKE_CXX_COMPILER=/nonexistent/c++ -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; echo "FAIL: the library-only configure needs C++ or Google Benchmark"; exit 1; }
if grep -q "CMAKE_CXX_COMPILER_ID:\|^CMAKE_CXX_COMPILER_LOADED" "$work/lib/CMakeCache.txt" ||
   [ -d "$work/lib/CMakeFiles/$(cmake --version | sed -n '1s/.* //p')/CompilerIdCXX" ]; then
  echo "FAIL: the library-only configure enabled C++"; exit 1
fi
cmake --build "$work/lib" -j2 >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log"; exit 1; }
cmake --install "$work/lib" --prefix "$work/prefix" >"$work/install.log"
echo "installed:"; (cd "$work/prefix" && find . -type f | sort)
extra=$(cd "$work/prefix" && find . -type f | grep -v -E '/lib[a-z0-9_]*/(libsimdattn\.(so[.0-9]*|a)|cmake/simdattn/.*\.cmake|pkgconfig/simdattn\.pc)$|^\./include/simdattn\.h$' || true)
[ -z "$extra" ] || { echo "FAIL: a library-only install holds more than the library: $extra"; exit 1; }
cmake -S "$src/examples" -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
      >"$work/example.log" 2>&1 && cmake --build "$work/example" >>"$work/example.log" 2>&1 ||
  { cat "$work/example.log"; exit 1; }
"$work/example/example"
ls "$work"/prefix/lib*/libsimdattn.a >/dev/null || { echo "FAIL: no static libsimdattn.a installed"; exit 1; }
echo "library-only build: configured without C++ and Google Benchmark, installed the static library alone"
