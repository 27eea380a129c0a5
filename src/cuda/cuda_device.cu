// CUDA runtime queries; the engine's CUDA backend builds on these.
#include <cstdio>

#include <cuda_runtime.h>

#include "../cuda_device.h"

extern "C" int cuda_device_count(void)
{
    int count = 0;
    // cudaErrorNoDevice and cudaErrorInsufficientDriver both mean "none here".
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return count;
}

extern "C" int cuda_device_describe(int index, char *buffer, int size)
{
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    std::snprintf(buffer, (size_t)size, "%s (sm_%d%d, %zu MiB)", prop.name, prop.major,
                  prop.minor, prop.totalGlobalMem >> 20);
    return 0;
}
