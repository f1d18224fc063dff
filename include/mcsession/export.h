/* Symbol visibility for mcsession's public API. The library is built with
 * hidden visibility; only functions marked MCS_EXPORT are exported. */
#ifndef MCSESSION_EXPORT_H
#define MCSESSION_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define MCS_EXPORT __attribute__((visibility("default")))
#define MCS_NODISCARD __attribute__((warn_unused_result))
#else
#define MCS_EXPORT
#define MCS_NODISCARD
#endif

#endif /* MCSESSION_EXPORT_H */
