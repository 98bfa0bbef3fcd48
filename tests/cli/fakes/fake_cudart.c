/* A stand-in for libcudart with the two GPUs of fake_nvml.c, for testing brix's dlopen path. */
#include <stdio.h>
#include <string.h>

int cudaRuntimeGetVersion(int* version) { *version = 12040; return 0; }
int cudaDriverGetVersion(int* version) { *version = 12040; return 0; }
int cudaGetDeviceCount(int* count) { *count = 2; return 0; }
const char* cudaGetErrorName(int code) { return code == 0 ? "cudaSuccess" : "cudaErrorUnknown"; }
int cudaDeviceGetPCIBusId(char* out, int length, int device) {
  if (device < 0 || device > 1) return 101; /* cudaErrorInvalidDevice */
  snprintf(out, (size_t)length, "%s", device == 0 ? "0000:1B:00.0" : "0000:43:00.0");
  return 0;
}
int cudaDeviceGetAttribute(int* value, int attribute, int device) {
  (void)device;
  switch (attribute) {
  case 16: *value = 132; return 0; /* cudaDevAttrMultiProcessorCount */
  case 75: *value = 9; return 0;   /* cudaDevAttrComputeCapabilityMajor */
  case 76: *value = 0; return 0;   /* cudaDevAttrComputeCapabilityMinor */
  default: return 1;
  }
}
