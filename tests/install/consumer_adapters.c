/* Links both installed adapters and calls into each. */
#include <mcsession.h>
#include <mcsession/evhttp.h>
#include <mcsession/mhd.h>
#include <stdio.h>

int main(void) {
  /* NULL arguments are refused without touching an HTTP library object. */
  int mhd = mcs_mhd_add_set_cookies(NULL, NULL);
  int ev = mcs_evhttp_add_set_cookies(NULL, NULL);
  int ok = mhd == MCS_EINVAL && ev == MCS_EINVAL &&
           mcs_http_status_for_error(MCS_ELIMIT) == 431;
  printf("adapters: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
