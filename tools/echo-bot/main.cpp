// entre-echo-bot: an example bot on entre-host's control API (docs/control-api.md). It connects to
// a node's control socket, answers every message with the same text after a prefix, and marks the
// conversation read. It needs nothing but a socket and a JSON library: a bot in any language
// looks the same.
//
//   entre-host --profile bot.toml --control /run/entre/bot.sock &
//   entre-echo-bot --control /run/entre/bot.sock [--prefix "echo: "]
//
// Exit status: 0 when the node closed the socket (it stopped), 1 when it cannot connect.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using Json = nlohmann::json;

class Connection {
 public:
  explicit Connection(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd_ < 0 || path.size() >= sizeof addr.sun_path) {
      throw std::runtime_error("bad control socket path '" + path + "'");
    }
    std::copy(path.begin(), path.end(), addr.sun_path);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot connect to " + path + ": " + std::strerror(errno));
    }
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void request(const std::string& method, const Json& params) {
    const std::string line =
        Json{{"id", next_id_++}, {"method", method}, {"params", params}}.dump() + "\n";
    std::size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::send(fd_, line.data() + done, line.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        throw std::runtime_error("the node closed the control socket");
      }
      done += static_cast<std::size_t>(n);
    }
  }

  // The next line from the node; false once it closed the socket.
  bool next(Json& out) {
    while (true) {
      const std::size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        out = Json::parse(buffer_.substr(0, nl), nullptr, false);
        buffer_.erase(0, nl + 1);
        return true;
      }
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  int64_t next_id_ = 1;
  std::string buffer_;
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"entre-echo-bot: answer every message with its own text"};
  std::string control;
  std::string prefix = "echo: ";
  app.add_option("--control", control, "the node's control socket (entre-host --control)")
      ->required();
  app.add_option("--prefix", prefix, "put before each answer (default \"echo: \")");
  CLI11_PARSE(app, argc, argv);
  try {
    Connection node(control);
    std::cout << "entre-echo-bot: answering on " << control << std::endl;
    Json line;
    while (node.next(line)) {
      if (!line.is_object() || line.value("event", "") != "message") {
        if (line.is_object() && line.contains("error")) {
          std::cerr << "entre-echo-bot: " << line["error"]["message"].get<std::string>() << '\n';
        }
        continue;
      }
      const Json& message = line["message"];
      const std::string contact = message["contact"];
      node.request("send",
                   {{"contact", contact}, {"text", prefix + message["text"].get<std::string>()}});
      node.request("read", {{"contact", contact}});
    }
    std::cout << "entre-echo-bot: the node closed the socket" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "entre-echo-bot: " << e.what() << '\n';
    return 1;
  }
}
