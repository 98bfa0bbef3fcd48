/* A stand-in for libnvidia-ml.so.1 (NVML) with two H100s, for testing brix's dlopen path (brix
 * probe and the monitor's node collector) on a machine without a GPU driver. Layouts follow
 * nvml.h (nvmlPciInfo_t v3, nvmlMemory_t, nvmlUtilization_t). */
#include <stdio.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct { int index; } *nvmlDevice_t;
typedef struct {
  char busIdLegacy[16];
  unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned gpu, memory; } nvmlUtilization_t;

static struct { int index; } devices[2] = {{0}, {1}};
static const char* bus_ids[2] = {"00000000:1B:00.0", "00000000:43:00.0"};

static int copy(char* out, unsigned length, const char* text) {
  if (strlen(text) + 1 > length) return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
  strcpy(out, text);
  return 0;
}

nvmlReturn_t nvmlInit_v2(void) { return 0; }
nvmlReturn_t nvmlShutdown(void) { return 0; }
const char* nvmlErrorString(nvmlReturn_t code) { return code == 0 ? "Success" : "Unknown Error"; }
nvmlReturn_t nvmlSystemGetDriverVersion(char* out, unsigned length) { return copy(out, length, "550.54.15"); }
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) { *version = 12040; return 0; }
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned* count) { *count = 2; return 0; }
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device) {
  if (index > 1) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *device = (nvmlDevice_t)&devices[index];
  return 0;
}
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  memset(pci, 0, sizeof *pci);
  strcpy(pci->busId, bus_ids[device->index]);
  return 0;
}
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* out, unsigned length) {
  (void)device;
  return copy(out, length, "NVIDIA H100 80GB HBM3");
}
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* out, unsigned length) {
  char text[64];
  snprintf(text, sizeof text, "GPU-00000000-0000-0000-0000-00000000000%d", device->index);
  return copy(out, length, text);
}
nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char* out, unsigned length) {
  return copy(out, length, device->index == 0 ? "1650923000000" : "1650923000001");
}
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  (void)device;
  memory->total = 85520809984ULL;
  memory->free = memory->total;
  memory->used = 0;
  return 0;
}
/* The monitor's figures: GPU 0 busy, GPU 1 half idle. */
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* rates) {
  rates->gpu = device->index == 0 ? 93 : 41;
  rates->memory = 50;
  return 0;
}
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned* celsius) {
  if (sensor != 0) return 2; /* only NVML_TEMPERATURE_GPU */
  *celsius = 60 + device->index;
  return 0;
}
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned* milliwatts) {
  *milliwatts = device->index == 0 ? 612500 : 250000;
  return 0;
}
/* GPU 1 trained at x8. */
nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned* gen) { (void)device; *gen = 5; return 0; }
nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned* width) { *width = device->index == 1 ? 8 : 16; return 0; }
nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned* gen) { (void)device; *gen = 5; return 0; }
nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned* width) { (void)device; *width = 16; return 0; }
nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int* major, int* minor) {
  (void)device;
  *major = 9;
  *minor = 0;
  return 0;
}
/* 18 links to NVSwitches on GPU 0; GPU 1 has links 0-15 up (two down). */
nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned link, int* active) {
  if (link >= 18) return 2;
  *active = device->index == 0 || link < 16;
  return 0;
}
nvmlReturn_t nvmlDeviceGetNvLinkVersion(nvmlDevice_t device, unsigned link, unsigned* version) {
  (void)device;
  (void)link;
  *version = 4;
  return 0;
}
nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t device, unsigned link, int* type) {
  (void)device;
  (void)link;
  *type = 2; /* NVML_NVLINK_DEVICE_TYPE_SWITCH */
  return 0;
}
