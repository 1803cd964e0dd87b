// Checks a job file's bytes before yaml-cpp sees them.
//
// yaml-cpp 0.7 (Debian 12) does not survive every malformed input: a token
// that cannot start a value where a document or node should start (a ','
// outside [ ] or { }, after a scalar or at the top) makes LoadAll allocate
// without bound until std::bad_alloc (found by tests/fuzz/jobspec_fuzz; 4
// bytes suffice). And YAML text must be printable Unicode in UTF-8, which
// job specs then carry in protobuf strings that refuse anything else. So
// the parser refuses those inputs first, with a message naming the line.
#ifndef BERTH_SCHEDULER_SPEC_YAML_GUARD_H_
#define BERTH_SCHEDULER_SPEC_YAML_GUARD_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth::sched {

// InvalidArgument "<filename>: line N: ..." for bytes that are not UTF-8,
// control characters other than tab, LF and CR, or a stream on which
// yaml-cpp's document loop would make no progress (checked by walking the
// documents with a handler that keeps nothing). OK otherwise: the text may
// still be invalid YAML, which the real parse reports.
absl::Status CheckYamlInput(absl::string_view yaml, absl::string_view filename);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SPEC_YAML_GUARD_H_
