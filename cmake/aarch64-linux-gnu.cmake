# Cross-build for AArch64 Linux from x86-64 Debian, run under qemu-aarch64:
#   scripts/install-deps --aarch64
#   cmake -S . -B build-a64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-a64 -j && ctest --test-dir build-a64 --output-on-failure
# ctest runs every test as `qemu-aarch64 <test>`. Libraries and headers come from Debian's arm64
# multiarch packages (CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu is found automatically).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# No -L / QEMU_LD_PREFIX: with libc6:arm64 installed, the cross libc's loader paired with the
# multiarch libc makes pthread_create spin forever. Override with e.g.
# -DCMAKE_CROSSCOMPILING_EMULATOR="qemu-aarch64;-cpu;cortex-a72", or QEMU_CPU=cortex-a72 ctest.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 CACHE STRING "runs aarch64 binaries")
endif()
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
