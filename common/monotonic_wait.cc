#include "common/monotonic_wait.h"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "common/deadline_set.h"

namespace berth {
namespace {

using Steady = std::chrono::steady_clock;

// Beyond this a timeout is as good as none; keeps time_point arithmetic
// clear of overflow.
constexpr absl::Duration kLongest = absl::Hours(24 * 365);

Steady::duration ToSteady(absl::Duration d) {
  d = std::min(std::max(d, absl::ZeroDuration()), kLongest);
  return std::chrono::duration_cast<Steady::duration>(
      absl::ToChronoNanoseconds(d));
}

Steady::time_point SteadyAfter(absl::Duration d) {
  return Steady::now() + ToSteady(d);
}

// One waiter's registration. It lives on the waiter's stack; the waker
// touches it only under its own mutex, and the waiter unregisters before
// returning, so it never dangles.
struct Ticket {
  absl::Mutex* mu;
  absl::CondVar* cv;  // null: wake by unlocking mu only
  DeadlineSet<Ticket>::Key key;
};

class Waker {
 public:
  static Waker& Get() {
    // Never destroyed: waits may run during static destruction.
    static Waker* w = new Waker();
    return *w;
  }

  // `slack`: how much after `at` the waiter may be woken (deadline_set.h).
  void Add(Ticket* t, Steady::time_point at, Steady::duration slack) {
    std::lock_guard<std::mutex> l(mu_);
    t->key = tickets_.Add(at, slack, t);
    // Hot waiters (the Raft driver) re-register the same deadline after
    // every wake-up; the waker is disturbed only when it must wake earlier.
    if (tickets_.WakeAt() < sleeping_until_) cv_.notify_one();
  }

  void Remove(Ticket* t) {
    std::lock_guard<std::mutex> l(mu_);
    tickets_.Remove(t->key);
  }

 private:
  Waker() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    std::vector<Ticket*> due;
    while (true) {
      const Steady::time_point now = Steady::now();
      due.clear();
      tickets_.TakeDue(now, &due);
      for (Ticket* t : due) {
        if (!Wake(t)) {
          // The waiter's mutex is held by someone else: try again shortly.
          t->key = tickets_.Add(now + std::chrono::milliseconds(1),
                                Steady::duration::zero(), t);
        }
      }
      sleeping_until_ = tickets_.WakeAt();
      if (sleeping_until_ == Steady::time_point::max()) {
        cv_.wait(l);
      } else {
        cv_.wait_until(l, sleeping_until_);
      }
      // Awake: the loop reads every ticket before sleeping again.
      sleeping_until_ = Steady::time_point::min();
    }
  }

  // Never blocks on the waiter's mutex (its holder may be registering with
  // us). For a Mutex waiter a busy mutex is fine: its holder's unlock
  // re-evaluates the waiter's condition, which now reads true. A CondVar
  // waiter is signalled only while we hold its mutex, which proves it is
  // inside Wait (it holds the mutex from registering until Wait releases
  // it), so the signal cannot be lost.
  static bool Wake(Ticket* t) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (!t->mu->TryLock()) return t->cv == nullptr;
    if (t->cv != nullptr) t->cv->SignalAll();
    t->mu->Unlock();
    return true;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  Steady::time_point sleeping_until_ = Steady::time_point::min();
  DeadlineSet<Ticket> tickets_;
};

// A timed wait first waits with absl's own timeout, which the kernel ends
// on the waiting thread: no other thread is woken, and on a VM each hand-off
// of a wake-up costs (the 1,000-agent swarm spent most of its idle CPU on
// the waker's hand-offs, docs/benchmarks.md). That timeout follows the wall
// clock, though, so the waker stands by as a backstop, a little after the
// monotonic deadline: on a healthy clock the waiter is gone from it before
// then, and after a step of the wall clock (or under libfaketime) the wait
// ends at most 2 ms, or twice SlackFor(timeout), late.
constexpr Steady::duration kMinBackstop = std::chrono::milliseconds(2);

void Backstop(Ticket* t, Steady::time_point deadline, absl::Duration timeout) {
  const Steady::duration slack = SlackFor(ToSteady(timeout));
  Waker::Get().Add(t, deadline + std::max(kMinBackstop, slack), slack);
}

}  // namespace

MonotonicDeadline MonotonicDeadline::FromWall(absl::Time wall_deadline) {
  if (wall_deadline == absl::InfiniteFuture()) {
    return MonotonicDeadline(SteadyAfter(kLongest));
  }
  return MonotonicDeadline(SteadyAfter(wall_deadline - absl::Now()));
}

absl::Duration MonotonicDeadline::Remaining() const {
  return absl::FromChrono(at_ - Steady::now());
}

bool AwaitMonotonic(absl::Mutex* mu, const absl::Condition& cond,
                    absl::Duration timeout) {
  if (cond.Eval()) return true;
  if (timeout <= absl::ZeroDuration()) return false;
  if (timeout == absl::InfiniteDuration()) {
    mu->Await(cond);
    return true;
  }
  struct Args {
    const absl::Condition* cond;
    Steady::time_point deadline;
  } args{&cond, SteadyAfter(timeout)};
  const absl::Condition cond_or_time(
      +[](Args* a) { return a->cond->Eval() || Steady::now() >= a->deadline; },
      &args);
  Ticket t{mu, nullptr, {}};
  Backstop(&t, args.deadline, timeout);
  if (!mu->AwaitWithTimeout(cond_or_time, timeout) && !cond_or_time.Eval()) {
    // absl's wall-clock deadline came before the monotonic one: the wall
    // clock stepped forward, or absl's clock runs behind the kernel's.
    // The backstop ends the wait.
    mu->Await(cond_or_time);
  }
  Waker::Get().Remove(&t);
  return cond.Eval();
}

bool WaitMonotonic(absl::CondVar* cv, absl::Mutex* mu, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return true;
  if (timeout == absl::InfiniteDuration()) {
    cv->Wait(mu);
    return false;
  }
  const Steady::time_point deadline = SteadyAfter(timeout);
  Ticket t{mu, cv, {}};
  Backstop(&t, deadline, timeout);
  if (cv->WaitWithTimeout(mu, timeout) && Steady::now() < deadline) {
    // As above: a signal or the backstop ends it.
    cv->Wait(mu);
  }
  Waker::Get().Remove(&t);
  return Steady::now() >= deadline;
}

void Notice::Notify() {
  absl::MutexLock l(&mu_);
  notified_ = true;
}

bool Notice::HasBeenNotified() const {
  absl::MutexLock l(&mu_);
  return notified_;
}

void Notice::Wait() const {
  absl::MutexLock l(&mu_);
  mu_.Await(absl::Condition(&notified_));
}

bool Notice::WaitFor(absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  return AwaitMonotonic(&mu_, absl::Condition(&notified_), timeout);
}

}  // namespace berth
