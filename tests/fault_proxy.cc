#include "tests/fault_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/errno.h"

namespace chatvault::testing {

namespace {

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

int Connect(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) !=
      0) {
    return -1;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace

Status SplitEndpoint(const std::string& endpoint, std::string* host,
                     int* port) {
  const std::string scheme = "http://";
  size_t colon = endpoint.rfind(':');
  if (!endpoint.starts_with(scheme) || colon < scheme.size()) {
    return Status::InvalidArgument("expected http://host:port, got " +
                                   endpoint);
  }
  *host = endpoint.substr(scheme.size(), colon - scheme.size());
  *port = std::atoi(endpoint.c_str() + colon + 1);
  if (*port <= 0) return Status::InvalidArgument("no port in " + endpoint);
  return Status::OK();
}

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(std::string upstream_host,
                                                      int upstream_port,
                                                      ProxyFaults faults) {
  auto p = std::unique_ptr<FaultProxy>(new FaultProxy());
  p->upstream_host_ = std::move(upstream_host);
  p->upstream_port_ = upstream_port;
  p->Configure(faults);
  p->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->listen_fd_ < 0) return StatusFromErrno(errno, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(p->listen_fd_, 64) != 0 ||
      ::getsockname(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
          0) {
    return StatusFromErrno(errno, "cannot listen on 127.0.0.1");
  }
  p->port_ = ntohs(addr.sin_port);
  p->acceptor_ = std::thread([raw = p.get()] { raw->Accept(); });
  return p;
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
}

void FaultProxy::Configure(const ProxyFaults& faults) {
  std::lock_guard lock(mu_);
  faults_ = faults;
  rng_.seed(faults.seed);
}

ProxyCounts FaultProxy::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void FaultProxy::Accept() {
  while (!stopping_) {
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(client);
      return;
    }
    open_fds_.push_back(client);
    workers_.emplace_back([this, client] { Serve(client); });
  }
}

FaultProxy::Fault FaultProxy::Draw(uint64_t* at) {
  std::uniform_real_distribution<double> u(0, 1);
  double x = u(rng_);
  Fault f = Fault::kNone;
  if (counts_.faults() >= faults_.max_faults) x = 2;  // none
  for (auto [p, kind] : {std::pair{faults_.reset, Fault::kReset},
                         {faults_.stall, Fault::kStall},
                         {faults_.error, Fault::kError},
                         {faults_.truncate, Fault::kTruncate},
                         {faults_.drip, Fault::kDrip}}) {
    if (x < p) {
      f = kind;
      break;
    }
    x -= p;
  }
  // Resets come within the first 80 KiB of a request (odd offsets) or
  // the window of its response (even); the other faults within the window.
  if (f == Fault::kReset && rng_() % 2 == 1) {
    *at = (rng_() % (80 << 10)) | 1;
  } else {
    *at = (rng_() % std::max<uint64_t>(faults_.window, 2)) & ~uint64_t{1};
  }
  return f;
}

void FaultProxy::Serve(int client) {
  {
    std::lock_guard lock(mu_);
    ++counts_.connections;
  }
  auto count = [&](uint64_t ProxyCounts::*field) {
    std::lock_guard lock(mu_);
    ++(counts_.*field);
  };
  int upstream = Connect(upstream_host_, upstream_port_);
  if (upstream >= 0) {
    std::lock_guard lock(mu_);
    open_fds_.push_back(upstream);
  }
  auto close_all = [&](bool reset) {
    std::lock_guard lock(mu_);
    for (int fd : {client, upstream}) {
      if (fd < 0) continue;
      if (reset && fd == client) {
        linger l{1, 0};  // close sends RST
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      }
      open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd),
                      open_fds_.end());
      ::close(fd);
    }
  };
  if (upstream < 0) {
    close_all(true);
    return;
  }

  // Without pipelining (curl does not pipeline), a request begins when the
  // client sends after the server has answered; each request draws its own
  // fault, and the byte offsets count from its start.
  Fault fault = Fault::kNone;
  uint64_t at = 0, up_bytes = 0, down_bytes = 0;
  std::chrono::milliseconds stall_for{0};
  bool answered = true, fired = false;
  bool client_open = true, upstream_open = true;
  char buf[16384];
  while ((client_open || upstream_open) && !stopping_) {
    pollfd p[2] = {
        {client, static_cast<short>(client_open ? POLLIN : 0), 0},
        {upstream, static_cast<short>(upstream_open ? POLLIN : 0), 0}};
    if (::poll(p, 2, 500) < 0 && errno != EINTR) break;
    if (client_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(client, buf, sizeof buf);
      if (n <= 0) {
        client_open = false;
        ::shutdown(upstream, SHUT_WR);
      } else {
        size_t take = static_cast<size_t>(n);
        if (answered) {
          std::lock_guard lock(mu_);
          fault = Draw(&at);
          stall_for = faults_.stall_for;
          answered = fired = false;
          up_bytes = down_bytes = 0;
        }
        if (fault == Fault::kError) {
          // Answer it here, without the server, and close.
          const std::string body =
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
              "SlowDown</Code><Message>injected by the test proxy</Message>"
              "</Error>";
          std::string response =
              "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
              "Connection: close\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body;
          WriteAll(client, response.data(), response.size());
          count(&ProxyCounts::errors);
          ::shutdown(client, SHUT_WR);
          pollfd d{client, POLLIN, 0};
          while (::poll(&d, 1, 200) > 0 &&
                 ::read(client, buf, sizeof buf) > 0) {
          }
          close_all(false);
          return;
        }
        // Odd offsets reset while the request goes up.
        if (fault == Fault::kReset && at % 2 == 1 && up_bytes + take >= at) {
          WriteAll(upstream, buf, at - up_bytes);
          count(&ProxyCounts::resets);
          close_all(true);
          return;
        }
        up_bytes += take;
        if (!WriteAll(upstream, buf, take)) break;
      }
    }
    if (upstream_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(upstream, buf, sizeof buf);
      if (n <= 0) {
        upstream_open = false;
        ::shutdown(client, SHUT_WR);
        continue;
      }
      answered = true;
      size_t take = static_cast<size_t>(n);
      bool reached = !fired && down_bytes + take >= at;
      size_t before = reached ? static_cast<size_t>(at - down_bytes) : take;
      down_bytes += take;
      switch (reached ? fault : Fault::kNone) {
        case Fault::kReset:
          if (at % 2 == 1) break;
          WriteAll(client, buf, before);
          count(&ProxyCounts::resets);
          close_all(true);
          return;
        case Fault::kTruncate:
          WriteAll(client, buf, before);
          count(&ProxyCounts::truncations);
          close_all(false);
          return;
        case Fault::kStall: {
          fired = true;
          count(&ProxyCounts::stalls);
          if (!WriteAll(client, buf, before)) break;
          auto until = std::chrono::steady_clock::now() + stall_for;
          while (!stopping_ && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
          if (!WriteAll(client, buf + before, take - before)) {
            client_open = upstream_open = false;
          }
          continue;
        }
        case Fault::kDrip:
          fired = true;
          count(&ProxyCounts::drips);
          break;
        default:
          break;
      }
      if (fault == Fault::kDrip && fired) {
        // 256 bytes a millisecond: slow, but far above the client's floor.
        for (size_t off = 0; off < take && client_open; off += 256) {
          if (!WriteAll(client, buf + off, std::min<size_t>(256, take - off)))
            client_open = false;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      } else if (!WriteAll(client, buf, take)) {
        break;
      }
    }
  }
  close_all(false);
}

}  // namespace chatvault::testing
