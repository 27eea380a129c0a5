/* What the CUDA runtime sees (cuda/cuda_device.cu). Built only when
 * configure finds CUDA, which defines HAVE_CUDA. */
#ifndef UOE_CUDA_DEVICE_H
#define UOE_CUDA_DEVICE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices; 0 when none or when the driver is absent. */
int cuda_device_count(void);
/* Writes "NAME (sm_XY, N MiB)" for device index into buffer; returns -1 on failure. */
int cuda_device_describe(int index, char *buffer, int size);

#ifdef __cplusplus
}
#endif

#endif
