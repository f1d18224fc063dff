/* libFuzzer target for the demo's device labels (examples/demo/device.c),
 * which read whatever a client sends as its User-Agent.
 *
 * The input is the header, copied into a buffer of exactly its size plus
 * a NUL, so AddressSanitizer reports any read past it.
 *
 * Invariants checked:
 *   - the label is 1..MCS_SESSION_LABEL_MAX bytes, NUL-terminated, and
 *     the library takes it (mcs_user_id_valid: UTF-8 without C0 controls
 *     or DEL, the rule for labels too), so no User-Agent fails a login;
 *   - it holds no C1 control and no text-direction control, no space at
 *     either end and no two in a row;
 *   - making a label of a label changes nothing;
 *   - the name shown for it fits DEVICE_NAME_SIZE and is valid UTF-8.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mcsession.h>

#include "device.h"
#include "fuzz_check.h"
#include "text.h"

static void check_label(const char *label) {
  size_t n = strnlen(label, DEVICE_LABEL_SIZE);
  CHECK(n > 0 && n < DEVICE_LABEL_SIZE);
  CHECK(mcs_user_id_valid(label));
  CHECK(label[0] != ' ' && label[n - 1] != ' ' && !strstr(label, "  "));
  const unsigned char *s = (const unsigned char *)label;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    CHECK(text_next(s, n, &i, &cp));
    CHECK(!text_is_control(cp) && !text_is_bidi_control(cp));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *ua = malloc(size + 1);
  CHECK(ua != NULL);
  memcpy(ua, data, size);
  ua[size] = '\0';
  char label[DEVICE_LABEL_SIZE], again[DEVICE_LABEL_SIZE];
  device_label(ua, label);
  check_label(label);
  device_label(label, again);
  CHECK(strcmp(label, again) == 0);

  char name[DEVICE_NAME_SIZE];
  device_name(label, name);
  size_t n = strnlen(name, DEVICE_NAME_SIZE);
  CHECK(n > 0 && n < DEVICE_NAME_SIZE);
  CHECK(mcs_user_id_valid(name));
  free(ua);
  return 0;
}
