// Force-included first in every C++ file of a SANITIZE=thread build
// (cmake/Sanitizers.cmake). protobuf's map_field.h gives MapFieldBase two
// extra counters when __SANITIZE_THREAD__ is defined, but Debian's
// libprotobuf was built without TSan: our generated messages with a map
// field then disagree with the library about the layout, and destroying one
// crashes (sched_incremental_state_test segfaulted in
// ThreadSafeArena::SpaceAllocated). Including it once with the macro hidden
// gives it the library's layout; its include guard keeps it that way.
#undef __SANITIZE_THREAD__
#include <google/protobuf/map_field.h>
#define __SANITIZE_THREAD__ 1
