#include "control_server.hpp"

#include <boost/asio.hpp>

#include <array>
#include <deque>
#include <list>
#include <thread>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace entre::host {
namespace {

namespace asio = boost::asio;
constexpr int kMaxDepth = 64;
using Local = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;

std::string error_line(const Json& id, const std::string& code, const std::string& message) {
  return Json{{"id", id}, {"error", Json{{"code", code}, {"message", message}}}}.dump(
             -1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

// True when some process accepts connections on the socket at `path`.
bool socket_answers(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path.string();
  std::copy(p.begin(), p.end(), addr.sun_path);
  const bool answered = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return answered;
}

} // namespace

struct Session : std::enable_shared_from_this<Session> {
  Session(ControlServer::Impl& server_in, Local::socket socket_in, uint64_t number_in)
      : server(server_in), socket(std::move(socket_in)), timer(socket.get_executor()),
        number(number_in) {}

  ControlServer::Impl& server;
  Local::socket socket;
  asio::steady_timer timer;
  uint64_t number;
  std::array<char, 64 * 1024> chunk{};
  std::string input;
  std::deque<std::string> output;
  std::size_t pending = 0;
  std::size_t front_sent = 0; // bytes of output.front() already written
  bool writing = false;
  bool reading = false;
  bool closing = false; // write what is queued, then close
  bool closed = false;
  Clock::time_point last_progress = Clock::now();

  void start();
  void read();
  void on_read(std::size_t n);
  void handle(const std::string& line);
  void queue(std::string line, bool event = false);
  void write();
  void watch();
  void close(const std::string& why);
};

struct ControlServer::Impl {
  Impl(Commands& commands_in, std::function<void(const std::string&)> note_in,
       ControlLimits limits_in)
      : commands(commands_in), note(std::move(note_in)), limits(limits_in) {}

  Commands& commands;
  std::function<void(const std::string&)> note;
  ControlLimits limits;
  asio::io_context io;
  Local::acceptor acceptor{io};
  asio::steady_timer retry{io};
  std::list<std::shared_ptr<Session>> sessions;
  std::thread thread;
  std::filesystem::path path;
  uint64_t next_number = 1;
  bool started = false;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, Local::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        return;
      }
      if (ec) {
        // Out of descriptors, for instance: try again shortly rather than spin.
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](boost::system::error_code timer) {
          if (!timer && acceptor.is_open()) {
            accept();
          }
        });
        return;
      }
      if (!ec) {
        if (sessions.size() >= limits.max_clients) {
          const std::string refusal =
              error_line(nullptr, "too_many_clients",
                         "this node serves at most " + std::to_string(limits.max_clients) +
                             " control clients at once");
          boost::system::error_code ignored;
          asio::write(socket, asio::buffer(refusal), ignored);
          socket.close(ignored);
        } else {
          auto s = std::make_shared<Session>(*this, std::move(socket), next_number++);
          sessions.push_back(s);
          note("control: client " + std::to_string(s->number) + " connected");
          s->start();
        }
      }
      accept();
    });
  }

  void forget(const Session* s) {
    sessions.remove_if([&](const auto& p) { return p.get() == s; });
  }
};

void Session::start() {
  read();
  watch();
}

void Session::read() {
  if (reading || closing || closed) {
    return;
  }
  reading = true;
  socket.async_read_some(asio::buffer(chunk),
                         [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                           self->reading = false;
                           if (ec) {
                             self->close(ec == asio::error::eof ? "it closed the connection"
                                                                : "read failed: " + ec.message());
                             return;
                           }
                           self->on_read(n);
                         });
}

void Session::on_read(std::size_t n) {
  if (closed) {
    return;
  }
  input.append(chunk.data(), n);
  std::size_t start = 0;
  while (!closing && !closed) {
    const std::size_t end = input.find('\n', start);
    if (end == std::string::npos) {
      break;
    }
    if (end - start > server.limits.max_line_bytes) {
      break;
    }
    std::string line = input.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (!line.empty()) {
      handle(line);
    }
  }
  input.erase(0, start);
  if (!closing &&
      (input.size() > server.limits.max_line_bytes || input.find('\n') != std::string::npos)) {
    queue(error_line(nullptr, "line_too_long",
                     "a request line may hold at most " +
                         std::to_string(server.limits.max_line_bytes) + " bytes; disconnecting"));
    closing = true;
    input.clear();
    write();
    return;
  }
  if (pending < server.limits.pause_reading_bytes) {
    read();
  }
}

void Session::handle(const std::string& line) {
  // Values nested deeper than kMaxDepth are dropped while parsing (copying or destroying a deeply
  // nested value recurses), and the request is refused.
  bool too_deep = false;
  const Json::parser_callback_t limit = [&too_deep](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxDepth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  Json request = Json::parse(line, limit, false);
  if (too_deep) {
    queue(error_line(nullptr, "invalid_request",
                     "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels"));
    return;
  }
  if (request.is_discarded()) {
    queue(error_line(nullptr, "parse_error", "the line is not JSON"));
    return;
  }
  if (!request.is_object()) {
    queue(error_line(nullptr, "invalid_request", "a request is a JSON object"));
    return;
  }
  const Json id = request.contains("id") ? request["id"] : Json();
  if (!id.is_null() && !id.is_string() && !id.is_number_integer()) {
    queue(error_line(nullptr, "invalid_request", "\"id\" must be a string or an integer"));
    return;
  }
  const auto method = request.find("method");
  if (method == request.end() || !method->is_string()) {
    queue(error_line(id, "invalid_request", "a request needs a \"method\" string"));
    return;
  }
  const auto params = request.find("params");
  try {
    Json result = server.commands.call(method->get<std::string>(),
                                       params == request.end() ? Json::object() : Json(*params));
    queue(Json{{"id", id}, {"result", std::move(result)}}.dump(
              -1, ' ', false, nlohmann::json::error_handler_t::replace) +
          "\n");
  } catch (const CommandError& e) {
    queue(error_line(id, e.code, e.what()));
  } catch (const std::exception& e) {
    queue(error_line(id, "internal", e.what()));
  }
}

void Session::queue(std::string line, bool event) {
  if (closed || (closing && event)) {
    return;
  }
  pending += line.size();
  output.push_back(std::move(line));
  // Responses are bounded by what was asked (and reading pauses meanwhile); events are not, so
  // they are what cuts off a client that does not read.
  if (event && pending > server.limits.max_pending_bytes) {
    close("not reading: " + std::to_string(pending) + " bytes waiting");
    return;
  }
  write();
}

void Session::write() {
  if (writing || closed) {
    return;
  }
  if (output.empty()) {
    if (closing) {
      close("refused its input");
    }
    return;
  }
  // What is queued, from the unsent part of the first line on, up to 64 KiB per write; every byte
  // the client takes counts as progress.
  std::vector<asio::const_buffer> buffers;
  std::size_t bytes = 0;
  for (const auto& l : output) {
    const std::size_t skip = buffers.empty() ? front_sent : 0;
    if (!buffers.empty() && bytes + l.size() > 64 * 1024) {
      break;
    }
    buffers.emplace_back(asio::buffer(l.data() + skip, l.size() - skip));
    bytes += l.size() - skip;
  }
  writing = true;
  socket.async_write_some(
      buffers, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        self->writing = false;
        if (self->closed) {
          return;
        }
        if (ec) {
          self->close("write failed: " + ec.message());
          return;
        }
        self->pending -= n;
        while (n > 0) {
          const std::size_t left = self->output.front().size() - self->front_sent;
          if (n < left) {
            self->front_sent += n;
            break;
          }
          n -= left;
          self->output.pop_front();
          self->front_sent = 0;
        }
        self->last_progress = Clock::now();
        self->write();
        if (self->pending < self->server.limits.pause_reading_bytes / 2) {
          self->read();
        }
      });
}

void Session::watch() {
  timer.expires_after(std::chrono::milliseconds(250));
  timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->closed) {
      return;
    }
    if (self->pending > 0 && Clock::now() - self->last_progress > self->server.limits.stall) {
      self->close("not reading: " + std::to_string(self->pending) + " bytes waiting for " +
                  std::to_string(self->server.limits.stall.count()) + " ms");
      return;
    }
    if (self->pending == 0) {
      self->last_progress = Clock::now();
    }
    self->watch();
  });
}

void Session::close(const std::string& why) {
  if (closed) {
    return;
  }
  closed = true;
  boost::system::error_code ignored;
  timer.cancel();
  socket.shutdown(Local::socket::shutdown_both, ignored);
  socket.close(ignored);
  output.clear();
  pending = 0;
  front_sent = 0;
  server.note("control: client " + std::to_string(number) + " disconnected: " + why);
  server.forget(this);
}

ControlServer::ControlServer(Commands& commands, std::function<void(const std::string&)> note,
                             ControlLimits limits)
    : impl_(std::make_unique<Impl>(commands, std::move(note), limits)) {}

ControlServer::~ControlServer() { stop(); }

std::string ControlServer::start(const std::filesystem::path& path) {
  if (path.string().size() >= sizeof(sockaddr_un{}.sun_path)) {
    return "control socket path '" + path.string() + "' is longer than " +
           std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes";
  }
  std::error_code fec;
  const auto status = std::filesystem::symlink_status(path, fec);
  if (!fec && std::filesystem::exists(status)) {
    if (!std::filesystem::is_socket(status)) {
      return "control socket path '" + path.string() + "' exists and is not a socket";
    }
    if (socket_answers(path)) {
      return "control socket '" + path.string() + "' is in use by a running process";
    }
    std::filesystem::remove(path, fec);
  }
  boost::system::error_code ec;
  const mode_t old_mask = ::umask(0177);
  impl_->acceptor.open(Local(), ec);
  if (!ec) {
    impl_->acceptor.bind(Local::endpoint(path.string()), ec);
  }
  ::umask(old_mask);
  if (!ec) {
    impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return "cannot open control socket '" + path.string() + "': " + ec.message();
  }
  ::chmod(path.c_str(), 0600);
  impl_->path = path;
  impl_->started = true;
  impl_->accept();
  impl_->thread = std::thread([this] {
    for (;;) {
      try {
        impl_->io.run();
        return;
      } catch (const std::exception& e) {
        impl_->note(std::string("control: a handler failed: ") + e.what());
      }
    }
  });
  return {};
}

void ControlServer::broadcast(const Json& event) {
  if (!impl_->started) {
    return;
  }
  std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  asio::post(impl_->io, [this, line = std::move(line)] {
    auto sessions = impl_->sessions; // a queue() may close and forget its session
    for (const auto& s : sessions) {
      s->queue(line, true);
    }
  });
}

void ControlServer::stop() {
  if (!impl_->started) {
    return;
  }
  impl_->started = false;
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->retry.cancel();
    auto sessions = impl_->sessions;
    for (const auto& s : sessions) {
      s->close("the node is stopping");
    }
  });
  impl_->thread.join();
  std::error_code fec;
  std::filesystem::remove(impl_->path, fec);
}

} // namespace entre::host
