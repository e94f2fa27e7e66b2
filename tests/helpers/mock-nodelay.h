/* mock-nodelay.h — librdkafka's mock brokers answer as Kafka's do.
 *
 * Kafka's broker sets TCP_NODELAY on every connection it accepts
 * (apache/kafka core/src/main/scala/kafka/network/SocketServer.scala,
 * Acceptor.accept: socketChannel.socket().setTcpNoDelay(true)); the mock
 * cluster of librdkafka 2.0.2 does not, so when a client pipelines two
 * requests on one connection the second answer waits for the client's
 * delayed ACK (about 40 ms on Linux) — a stall no real broker has.
 * Sockets accepted on Linux inherit TCP_NODELAY from their listener, so
 * mock_nodelay(), called once after rd_kafka_mock_cluster_new(), sets it
 * on every listening TCP socket of this process.  Returns how many. */
#ifndef RP_MOCK_NODELAY_H
#define RP_MOCK_NODELAY_H
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static int mock_nodelay(void)
{
	int n = 0;
	for (int fd = 3; fd < 4096; fd++) {
		int on = 1, acc = 0;
		socklen_t l = sizeof acc;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) == 0 && acc &&
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0)
			n++;
	}
	return n;
}
#endif
