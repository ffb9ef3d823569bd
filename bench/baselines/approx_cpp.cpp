// Offline driver for the stock ROS 1 C++ ApproximateTime policy (message_filters).
//
// Usage: approx_cpp N QUEUE_SIZE SLOP < events > matches
//   events:  one line per header, "stream_index seq stamp arrival", in arrival order
//   matches: one line per matched set, "arrival_of_completing_event" then, per
//            stream 0..N-1, "seq"; N in 2..9.  SLOP bounds a set's stamp span
//            (ApproximateTime::setMaxIntervalDuration).
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>

#include <boost/function.hpp>
#include <boost/shared_ptr.hpp>
#include <message_filters/null_types.h>
#include <message_filters/sync_policies/approximate_time.h>
#include <message_filters/synchronizer.h>
#include <ros/message_traits.h>
#include <ros/time.h>
#include <std_msgs/Header.h>

struct Stamped
{
  std_msgs::Header header;
  long seq = 0;
};

namespace ros
{
namespace message_traits
{
template<> struct HasHeader<Stamped>: TrueType {};
}  // namespace message_traits
}  // namespace ros

namespace
{
double g_arrival = 0.0;

using message_filters::NullType;
template<int N, int I>
using Slot = typename std::conditional<(I < N), Stamped, NullType>::type;
template<typename T>
using CPtr = const boost::shared_ptr<T const> &;

void print_member(CPtr<Stamped> m) {std::printf(" %ld", m->seq);}
void print_member(CPtr<NullType>) {}

template<int N>
int run(unsigned queue_size, double slop)
{
  using Policy = message_filters::sync_policies::ApproximateTime<
    Slot<N, 0>, Slot<N, 1>, Slot<N, 2>, Slot<N, 3>, Slot<N, 4>,
    Slot<N, 5>, Slot<N, 6>, Slot<N, 7>, Slot<N, 8>>;
  Policy policy(queue_size);
  policy.setMaxIntervalDuration(ros::Duration(slop));
  message_filters::Synchronizer<Policy> sync(policy);
  boost::function<void(CPtr<Slot<N, 0>>, CPtr<Slot<N, 1>>, CPtr<Slot<N, 2>>,
    CPtr<Slot<N, 3>>, CPtr<Slot<N, 4>>, CPtr<Slot<N, 5>>, CPtr<Slot<N, 6>>,
    CPtr<Slot<N, 7>>, CPtr<Slot<N, 8>>)> cb = [](auto const &... ms) {
      std::printf("%.9f", g_arrival);
      (print_member(ms), ...);
      std::printf("\n");
    };
  sync.registerCallback(cb);
  int index;
  long seq;
  double stamp, arrival;
  while (std::scanf("%d %ld %lf %lf", &index, &seq, &stamp, &arrival) == 4) {
    if (index < 0 || index >= N) {
      std::fprintf(stderr, "approx_cpp: stream index %d out of range\n", index);
      return 2;
    }
    boost::shared_ptr<Stamped> msg(new Stamped);
    msg->seq = seq;
    msg->header.stamp = ros::Time(stamp);
    g_arrival = arrival;
    switch (index) {
      case 0: sync.template add<0>(boost::shared_ptr<Slot<N, 0> const>(msg)); break;
      case 1: sync.template add<1>(boost::shared_ptr<Slot<N, 1> const>(msg)); break;
      case 2: if constexpr (N > 2) {sync.template add<2>(boost::shared_ptr<Stamped const>(msg));} break;
      case 3: if constexpr (N > 3) {sync.template add<3>(boost::shared_ptr<Stamped const>(msg));} break;
      case 4: if constexpr (N > 4) {sync.template add<4>(boost::shared_ptr<Stamped const>(msg));} break;
      case 5: if constexpr (N > 5) {sync.template add<5>(boost::shared_ptr<Stamped const>(msg));} break;
      case 6: if constexpr (N > 6) {sync.template add<6>(boost::shared_ptr<Stamped const>(msg));} break;
      case 7: if constexpr (N > 7) {sync.template add<7>(boost::shared_ptr<Stamped const>(msg));} break;
      case 8: if constexpr (N > 8) {sync.template add<8>(boost::shared_ptr<Stamped const>(msg));} break;
    }
  }
  return 0;
}
}  // namespace

int main(int argc, char ** argv)
{
  if (argc != 4) {
    std::fprintf(stderr, "usage: approx_cpp N QUEUE_SIZE SLOP < events\n");
    return 2;
  }
  const int n = std::atoi(argv[1]);
  const long queue_size = std::atol(argv[2]);
  const double slop = std::atof(argv[3]);
  if (queue_size < 1 || slop < 0) {
    std::fprintf(stderr, "approx_cpp: bad QUEUE_SIZE or SLOP\n");
    return 2;
  }
  ros::Time::init();
  const unsigned q = static_cast<unsigned>(queue_size);
  switch (n) {
    case 2: return run<2>(q, slop);
    case 3: return run<3>(q, slop);
    case 4: return run<4>(q, slop);
    case 5: return run<5>(q, slop);
    case 6: return run<6>(q, slop);
    case 7: return run<7>(q, slop);
    case 8: return run<8>(q, slop);
    case 9: return run<9>(q, slop);
    default:
      std::fprintf(stderr, "approx_cpp: N must be in 2..9, got %d\n", n);
      return 2;
  }
}
