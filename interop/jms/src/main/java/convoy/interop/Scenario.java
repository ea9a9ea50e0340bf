package convoy.interop;

import jakarta.jms.BytesMessage;
import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.Destination;
import jakarta.jms.JMSException;
import jakarta.jms.MapMessage;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Queue;
import jakarta.jms.Session;
import jakarta.jms.StreamMessage;
import jakarta.jms.TextMessage;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.qpid.jms.JmsConnectionFactory;

/**
 * Qpid JMS scenario client for Convoy interop tests.
 *
 * <p>Usage: {@code java -jar convoy-jms-interop.jar <scenario> <amqp-url>}. Prints exactly one JSON
 * line on stdout: {@code {"scenario":..., "ok":true|false, "error":..., ...details}}. Exit code 0 on
 * success, 1 on a failed check or error, 2 on bad usage, 3 on the hard overall timeout. Client
 * logging (slf4j-simple) goes to stderr; set CONVOY_JMS_LOG=debug|trace for more, and
 * PN_TRACE_FRM=true for a proton-j frame trace.
 */
public final class Scenario {

    static final long HARD_TIMEOUT_MS = Long.getLong("convoy.hardTimeoutMs", 45_000L);
    /** Every receive that expects a message waits at most this long. */
    static final long RECEIVE_TIMEOUT_MS = 5_000L;
    /** How long to wait when asserting that nothing (more) arrives. */
    static final long QUIET_MS = 1_000L;
    /** Time for a new consumer's credit (flow) to reach the broker before producing. */
    static final long SETTLE_MS = 300L;

    /**
     * Client-side timeouts so that a broker that never answers a request (attach, drain, close)
     * yields a clear error well inside the hard timeout instead of a hang. Qpid JMS defaults are
     * infinite (request/send) or 60 s (close, drain).
     */
    static final String CLIENT_OPTIONS =
            "jms.connectTimeout=10000&jms.requestTimeout=10000&jms.sendTimeout=10000"
                    + "&jms.closeTimeout=10000&amqp.drainTimeout=8000";

    static final Map<String, Object> details = Collections.synchronizedMap(new LinkedHashMap<>());
    static final AtomicBoolean emitted = new AtomicBoolean();
    static String scenarioName = "?";

    /** A failed check: the message says what was expected and what was observed. */
    static final class Failure extends Exception {
        Failure(String message) {
            super(message);
        }
    }

    public static void main(String[] args) {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            String level = System.getenv("CONVOY_JMS_LOG");
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level == null ? "warn" : level);
        }
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");

        if (args.length != 2) {
            System.err.println("usage: Scenario <basic|groups|group-close|exclusive-failover|group-failover|security-*|topic-*> <amqp-url>");
            emit(false, "usage: Scenario <scenario> <amqp-url>");
            Runtime.getRuntime().halt(2);
        }
        scenarioName = args[0];
        String url = args[1];

        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(HARD_TIMEOUT_MS);
            } catch (InterruptedException e) {
                return;
            }
            emit(false, "hard timeout: scenario did not finish within " + HARD_TIMEOUT_MS + " ms (last step: "
                    + details.get("step") + ")");
            dumpThreads();
            Runtime.getRuntime().halt(3);
        }, "convoy-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        long t0 = System.nanoTime();
        int code;
        try {
            switch (scenarioName) {
                case "basic" -> basic(url);
                case "groups" -> groups(url);
                case "group-close" -> groupClose(url);
                case "exclusive-failover" -> exclusiveFailover(url);
                case "group-failover" -> groupFailover(url);
                case "security-login" -> SecurityScenarios.login(url);
                case "security-refused" -> SecurityScenarios.refused(url);
                case "security-authorization" -> SecurityScenarios.authorization(url);
                case "topic-fanout" -> TopicScenarios.fanout(url);
                case "topic-durable" -> TopicScenarios.durable(url);
                case "topic-durable-restart-1" -> TopicScenarios.durableRestart(url, 1);
                case "topic-durable-restart-2" -> TopicScenarios.durableRestart(url, 2);
                case "topic-durable-restart-3" -> TopicScenarios.durableRestart(url, 3);
                case "topic-durable-restart-4" -> TopicScenarios.durableRestart(url, 4);
                case "topic-shared" -> TopicScenarios.shared(url);
                case "topic-shared-groups" -> TopicScenarios.sharedGroups(url);
                case "topic-exclusive" -> TopicScenarios.exclusive(url);
                case "topic-temporary" -> TopicScenarios.temporaryTopic(url);
                case "topic-clash" -> TopicScenarios.clash(url);
                case "topic-transacted" -> TopicScenarios.transacted(url);
                case "tx-commit-sends" -> TransactionScenarios.commitSends(url);
                case "tx-rollback-sends" -> TransactionScenarios.rollbackSends(url);
                case "tx-commit-receives" -> TransactionScenarios.commitReceives(url);
                case "tx-rollback-receives" -> TransactionScenarios.rollbackReceives(url);
                case "tx-mixed" -> TransactionScenarios.mixed(url);
                case "tx-commit-refused" -> TransactionScenarios.commitRefused(url);
                case "tx-durable-prepare" -> TransactionScenarios.durablePrepare(url);
                case "tx-durable-check" -> TransactionScenarios.durableCheck(url);
                case "selector" -> JmsFeatureScenarios.selector(url);
                case "selector-invalid" -> JmsFeatureScenarios.selectorInvalid(url);
                case "selector-groups" -> JmsFeatureScenarios.selectorGroups(url);
                case "topic-selector" -> JmsFeatureScenarios.topicSelector(url);
                case "browser" -> JmsFeatureScenarios.browser(url);
                case "priority" -> JmsFeatureScenarios.priority(url);
                case "delay" -> JmsFeatureScenarios.delay(url);
                case "delay-send" -> JmsFeatureScenarios.delaySend(url);
                case "delay-receive" -> JmsFeatureScenarios.delayReceive(url);
                case "temporary-queue" -> JmsFeatureScenarios.temporaryQueue(url);
                default -> throw new Failure("unknown scenario '" + scenarioName + "'");
            }
            details.put("elapsedMs", (System.nanoTime() - t0) / 1_000_000);
            emit(true, null);
            code = 0;
        } catch (Failure f) {
            details.put("elapsedMs", (System.nanoTime() - t0) / 1_000_000);
            emit(false, f.getMessage());
            code = 1;
        } catch (Throwable t) {
            details.put("elapsedMs", (System.nanoTime() - t0) / 1_000_000);
            t.printStackTrace();
            String hint = "";
            if (describe(t).contains("drain request")) {
                hint = " [hint: Qpid JMS sent a flow with drain=true (it does so when a receive(timeout) finds nothing"
                        + " locally, and when a consumer stops or closes) and the broker answered neither with transfers"
                        + " nor with a flow carrying link-credit=0 (AMQP 1.0 2.6.7) within amqp.drainTimeout; step: "
                        + details.get("step") + "]";
            }
            emit(false, describe(t) + hint);
            code = 1;
        }
        // halt: never hang on a client thread that refuses to die after a broker misbehaved.
        Runtime.getRuntime().halt(code);
    }

    // ------------------------------------------------------------------ scenarios

    /**
     * 100 TextMessages with typed properties, then Bytes/Map/Stream/plain messages, then an anonymous
     * producer (null destination) sending to two queues.
     */
    static void basic(String url) throws Exception {
        Connection conn = connect(url, null);
        Session session = conn.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue queue = session.createQueue("jms.basic");

        step("send 100 text messages");
        MessageProducer producer = session.createProducer(queue);
        List<String> messageIds = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            TextMessage m = session.createTextMessage("text-" + i);
            for (Map.Entry<String, Object> e : typedProperties(i).entrySet()) {
                m.setObjectProperty(e.getKey(), e.getValue());
            }
            m.setJMSCorrelationID("corr-" + i);
            m.setJMSType("type-" + (i % 3));
            int mode = i % 2 == 0 ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT;
            producer.send(m, mode, Message.DEFAULT_PRIORITY, Message.DEFAULT_TIME_TO_LIVE);
            messageIds.add(m.getJMSMessageID());
        }

        step("send bytes/map/stream/plain messages");
        byte[] payload = new byte[256];
        for (int i = 0; i < payload.length; i++) payload[i] = (byte) i;
        BytesMessage bm = session.createBytesMessage();
        bm.writeBytes(payload);
        bm.setStringProperty("kind", "bytes");
        producer.send(bm);

        MapMessage mm = session.createMapMessage();
        Map<String, Object> mapBody = mapBody();
        for (Map.Entry<String, Object> e : mapBody.entrySet()) mm.setObject(e.getKey(), e.getValue());
        mm.setStringProperty("kind", "map");
        producer.send(mm);

        StreamMessage sm = session.createStreamMessage();
        List<Object> streamBody = streamBody();
        for (Object o : streamBody) sm.writeObject(o);
        sm.setStringProperty("kind", "stream");
        producer.send(sm);

        Message plain = session.createMessage();
        plain.setStringProperty("kind", "plain");
        producer.send(plain);

        step("receive 100 text messages");
        MessageConsumer consumer = session.createConsumer(queue);
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            Message m = consumer.receive(RECEIVE_TIMEOUT_MS);
            if (m == null) {
                problems.add("text message " + i + " of 100 not received within " + RECEIVE_TIMEOUT_MS + " ms");
                fail("basic", problems);
            }
            String where = "text message " + i;
            if (!(m instanceof TextMessage tm)) {
                problems.add(where + ": expected a TextMessage, got " + kindOf(m));
                continue;
            }
            if (!("text-" + i).equals(tm.getText())) {
                problems.add(where + ": expected body 'text-" + i + "', got '" + tm.getText() + "' (order or body broken)");
                continue;
            }
            for (Map.Entry<String, Object> e : typedProperties(i).entrySet()) {
                Object got = m.getObjectProperty(e.getKey());
                if (!e.getValue().equals(got)) {
                    problems.add(where + ": property " + e.getKey() + " expected " + typed(e.getValue()) + ", got " + typed(got));
                }
            }
            expectEq(problems, where + ": JMSMessageID", messageIds.get(i), m.getJMSMessageID());
            expectEq(problems, where + ": JMSCorrelationID", "corr-" + i, m.getJMSCorrelationID());
            expectEq(problems, where + ": JMSType", "type-" + (i % 3), m.getJMSType());
            expectEq(problems, where + ": JMSDeliveryMode",
                    i % 2 == 0 ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT, m.getJMSDeliveryMode());
            expectEq(problems, where + ": JMSXDeliveryCount", 1, m.getIntProperty("JMSXDeliveryCount"));
            expectEq(problems, where + ": JMSRedelivered", false, m.getJMSRedelivered());
            expectEq(problems, where + ": JMSDestination", "queue://jms.basic", destinationName(m.getJMSDestination()));
            if (problems.size() > 20) break;
        }
        fail("basic text messages", problems);
        details.put("textMessages", 100);

        step("receive bytes message");
        Message m = consumer.receive(RECEIVE_TIMEOUT_MS);
        if (!(m instanceof BytesMessage rb)) {
            throw new Failure("expected a BytesMessage after the 100 text messages, got " + kindOf(m));
        }
        byte[] got = new byte[(int) rb.getBodyLength()];
        rb.readBytes(got);
        if (!Arrays.equals(payload, got)) {
            problems.add("BytesMessage body differs: sent 256 bytes 0..255, got " + got.length + " bytes " + hex(got, 16));
        }
        expectEq(problems, "BytesMessage property kind", "bytes", rb.getStringProperty("kind"));

        step("receive map message");
        m = consumer.receive(RECEIVE_TIMEOUT_MS);
        if (!(m instanceof MapMessage rm)) {
            throw new Failure("expected a MapMessage, got " + kindOf(m));
        }
        for (Map.Entry<String, Object> e : mapBody.entrySet()) {
            Object v = rm.getObject(e.getKey());
            boolean same = e.getValue() instanceof byte[] b ? v instanceof byte[] vb && Arrays.equals(b, vb) : e.getValue().equals(v);
            if (!same) {
                problems.add("MapMessage entry " + e.getKey() + " expected " + typed(e.getValue()) + ", got " + typed(v));
            }
        }

        step("receive stream message");
        m = consumer.receive(RECEIVE_TIMEOUT_MS);
        if (!(m instanceof StreamMessage rs)) {
            throw new Failure("expected a StreamMessage, got " + kindOf(m));
        }
        for (int i = 0; i < streamBody.size(); i++) {
            Object want = streamBody.get(i);
            Object v;
            try {
                v = rs.readObject();
            } catch (JMSException e) {
                problems.add("StreamMessage element " + i + ": " + describe(e));
                break;
            }
            boolean same = want instanceof byte[] b ? v instanceof byte[] vb && Arrays.equals(b, vb) : want.equals(v);
            if (!same) problems.add("StreamMessage element " + i + " expected " + typed(want) + ", got " + typed(v));
        }

        step("receive plain message");
        m = consumer.receive(RECEIVE_TIMEOUT_MS);
        if (m == null) throw new Failure("plain Message (no body) not received within " + RECEIVE_TIMEOUT_MS + " ms");
        if (m instanceof TextMessage || m instanceof BytesMessage || m instanceof MapMessage
                || m instanceof StreamMessage || m instanceof jakarta.jms.ObjectMessage) {
            problems.add("plain Message came back as " + kindOf(m));
        }
        expectEq(problems, "plain Message property kind", "plain", m.getStringProperty("kind"));
        step("check no extra message on jms.basic (receive " + QUIET_MS + " ms)");
        Message extra = consumer.receive(QUIET_MS);
        if (extra != null) problems.add("unexpected extra message on jms.basic: " + summary(extra));
        fail("basic bytes/map/stream/plain messages", problems);
        details.put("otherMessages", List.of("bytes", "map", "stream", "plain"));

        step("anonymous producer");
        Boolean relay = anonymousRelaySupported(conn);
        details.put("anonymousRelay", relay);
        if (Boolean.FALSE.equals(relay)) {
            throw new Failure("broker did not offer the ANONYMOUS-RELAY connection capability in its open frame"
                    + " (Qpid JMS would fall back to one link per destination)");
        }
        Queue anon1 = session.createQueue("jms.anon.1");
        Queue anon2 = session.createQueue("jms.anon.2");
        MessageProducer anon = session.createProducer(null);
        for (int i = 0; i < 10; i++) {
            TextMessage t = session.createTextMessage("anon-" + i);
            t.setIntProperty("n", i);
            anon.send(i % 2 == 0 ? anon1 : anon2, t);
        }
        for (Queue q : List.of(anon1, anon2)) {
            MessageConsumer c = session.createConsumer(q);
            int start = q == anon1 ? 0 : 1;
            for (int i = start; i < 10; i += 2) {
                Message r = c.receive(RECEIVE_TIMEOUT_MS);
                if (r == null) {
                    throw new Failure("anonymous producer: message anon-" + i + " not received on " + q.getQueueName()
                            + " within " + RECEIVE_TIMEOUT_MS + " ms");
                }
                String body = r instanceof TextMessage t ? t.getText() : kindOf(r);
                expectEq(problems, "anonymous producer: body on " + q.getQueueName(), "anon-" + i, body);
                expectEq(problems, "anonymous producer: JMSDestination of anon-" + i,
                        "queue://" + q.getQueueName(), destinationName(r.getJMSDestination()));
            }
            Message x = c.receive(300);
            if (x != null) problems.add("anonymous producer: unexpected extra message on " + q.getQueueName() + ": " + summary(x));
            c.close();
        }
        fail("anonymous producer", problems);
        details.put("anonymousMessages", 10);

        step("close");
        conn.close();
    }

    /** Two consumers, groups A,B,C interleaved: each group wholly at one consumer, in order; A and B apart. */
    static void groups(String url) throws Exception {
        Connection consumers = connect(url, "jms.prefetchPolicy.all=10");
        Collector c1 = new Collector("c1"), c2 = new Collector("c2");
        Session s1 = consumers.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Session s2 = consumers.createSession(false, Session.AUTO_ACKNOWLEDGE);
        s1.createConsumer(s1.createQueue("jms.groups")).setMessageListener(c1);
        s2.createConsumer(s2.createQueue("jms.groups")).setMessageListener(c2);
        Thread.sleep(SETTLE_MS);

        step("send grouped messages");
        Connection pc = connect(url, null);
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = ps.createProducer(ps.createQueue("jms.groups"));
        String[] pattern = {"A", "B", "A", "C", "B", "A", "C"};
        Map<String, Integer> sent = new LinkedHashMap<>();
        int total = 0;
        for (int round = 0; round < 5; round++) {
            for (String g : pattern) {
                int k = sent.merge(g, 1, Integer::sum);
                TextMessage m = ps.createTextMessage(g + k);
                m.setStringProperty("JMSXGroupID", g);
                m.setIntProperty("n", total++);
                p.send(m);
            }
        }
        details.put("sent", sent);

        step("collect grouped messages");
        awaitTotal(total, c1, c2);
        Thread.sleep(300); // catch duplicates arriving late
        details.put("received", Map.of("c1", c1.snapshot(), "c2", c2.snapshot()));
        List<String> problems = new ArrayList<>();
        problems.addAll(c1.errors);
        problems.addAll(c2.errors);
        Map<String, String> owners = checkGroups(sent, problems, c1, c2);
        details.put("owners", owners);
        if (owners.get("A") != null && owners.get("A").equals(owners.get("B"))) {
            problems.add("groups A and B were both assigned to " + owners.get("A")
                    + " (expected the second group to go to the consumer owning the fewest groups)");
        }
        fail("groups", problems);
        pc.close();
        consumers.close();
    }

    /** JMSXGroupSeq = -1 closes the group: A1..A3 at one consumer in order; A4 still delivered. */
    static void groupClose(String url) throws Exception {
        Connection consumers = connect(url, "jms.prefetchPolicy.all=10");
        Collector c1 = new Collector("c1"), c2 = new Collector("c2");
        Session s1 = consumers.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Session s2 = consumers.createSession(false, Session.AUTO_ACKNOWLEDGE);
        s1.createConsumer(s1.createQueue("jms.groupclose")).setMessageListener(c1);
        s2.createConsumer(s2.createQueue("jms.groupclose")).setMessageListener(c2);
        Thread.sleep(SETTLE_MS);

        step("send A1..A4");
        Connection pc = connect(url, null);
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = ps.createProducer(ps.createQueue("jms.groupclose"));
        for (int k = 1; k <= 4; k++) {
            TextMessage m = ps.createTextMessage("A" + k);
            m.setStringProperty("JMSXGroupID", "A");
            if (k == 3) m.setIntProperty("JMSXGroupSeq", -1);
            m.setIntProperty("n", k - 1);
            p.send(m);
        }

        step("collect A1..A4");
        awaitTotal(4, c1, c2);
        Thread.sleep(300);
        details.put("received", Map.of("c1", c1.snapshot(), "c2", c2.snapshot()));
        List<String> problems = new ArrayList<>();
        problems.addAll(c1.errors);
        problems.addAll(c2.errors);
        List<String> first3 = List.of("A1", "A2", "A3");
        Collector owner = c1.bodies().contains("A1") ? c1 : c2;
        List<String> ownerBodies = owner.bodies();
        List<String> ownerFirst3 = ownerBodies.stream().filter(first3::contains).toList();
        if (!ownerFirst3.equals(first3)) {
            problems.add("A1..A3 (closed by JMSXGroupSeq=-1 on A3) expected at one consumer in order; "
                    + owner.name + " got " + ownerBodies + ", other got " + (owner == c1 ? c2 : c1).bodies());
        }
        int a4 = Collections.frequency(c1.bodies(), "A4") + Collections.frequency(c2.bodies(), "A4");
        if (a4 != 1) problems.add("A4 expected exactly once after the group was closed, delivered " + a4 + " times");
        details.put("a4At", c1.bodies().contains("A4") ? "c1" : c2.bodies().contains("A4") ? "c2" : null);
        details.put("a1At", owner.name);
        Integer seq = owner.groupSeqOf("A3");
        details.put("a3GroupSeq", seq);
        if (seq != null && seq != -1) {
            problems.add("A3 came back with JMSXGroupSeq " + seq + ", expected -1 (group-sequence 4294967295)");
        }
        fail("group-close", problems);
        pc.close();
        consumers.close();
    }

    /**
     * Two exclusive consumers (two connections). Consumer 1 (CLIENT_ACKNOWLEDGE) is active, receives 5
     * without acknowledging, closes its connection; consumer 2 then receives all 20 in order, the first 5
     * redelivered (see checkRedelivery for the counts).
     */
    static void exclusiveFailover(String url) throws Exception {
        String address = "jms.excl?consumer.exclusive=true";
        Connection conn1 = connect(url, null);
        Session s1 = conn1.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer c1 = s1.createConsumer(s1.createQueue(address));
        Connection conn2 = connect(url, null);
        Session s2 = conn2.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer c2 = s2.createConsumer(s2.createQueue(address));
        Thread.sleep(SETTLE_MS);

        step("send 20");
        Connection pc = connect(url, null);
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        send(ps, ps.createQueue("jms.excl"), 20, null, 0);

        step("consumer 1 receives 5 without acknowledging");
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Message m = c1.receive(RECEIVE_TIMEOUT_MS);
            if (m == null) {
                Message other = c2.receiveNoWait();
                throw new Failure("exclusive consumer 1 (first attached) did not receive message n=" + i + " within "
                        + RECEIVE_TIMEOUT_MS + " ms" + (other != null ? "; consumer 2 had " + summary(other) : ""));
            }
            expectEq(problems, "consumer 1 message " + i + " n", i, m.getIntProperty("n"));
            expectEq(problems, "consumer 1 message " + i + " JMSXDeliveryCount", 1, m.getIntProperty("JMSXDeliveryCount"));
        }
        step("consumer 2 must receive nothing while consumer 1 is active (receive " + QUIET_MS + " ms)");
        Message stray = c2.receive(QUIET_MS);
        if (stray != null) {
            problems.add("consumer 2 received " + summary(stray) + " while consumer 1 was the active exclusive consumer");
        }
        fail("exclusive consumer 1", problems);

        step("close consumer 1's connection");
        long t0 = System.nanoTime();
        conn1.close();
        long closeMs = (System.nanoTime() - t0) / 1_000_000;
        details.put("closeMs", closeMs);
        if (closeMs > 5_000) {
            problems.add("closing consumer 1's connection took " + closeMs + " ms (Qpid JMS drains the link on stop;"
                    + " an unanswered drain or close waits for amqp.drainTimeout/jms.closeTimeout)");
        }

        step("consumer 2 receives all 20");
        List<Map<String, Object>> got = receiveAll(c2, 20, "consumer 2", problems);
        details.put("consumer2", got);
        checkRedelivery(got, 0, 5, 20, problems, "consumer 2");
        Message extra = c2.receive(300);
        if (extra != null) problems.add("consumer 2: unexpected extra message " + summary(extra));
        fail("exclusive failover", problems);
        conn2.close();
        pc.close();
    }

    /**
     * Consumer 1 (CLIENT_ACKNOWLEDGE) owns group A with 5 unacknowledged messages; consumer 2 gets group
     * B; A6..A8 must not reach consumer 2 while consumer 1 lives. Consumer 1's connection closes;
     * consumer 2 then receives A1..A8 in order, all redelivered (see checkRedelivery).
     */
    static void groupFailover(String url) throws Exception {
        String queueName = "jms.gfail";
        Connection pc = connect(url, null);
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = ps.createQueue(queueName);

        Connection conn1 = connect(url, null);
        Session s1 = conn1.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer c1 = s1.createConsumer(s1.createQueue(queueName));
        Thread.sleep(SETTLE_MS);

        step("send A1..A5; consumer 1 receives them without acknowledging");
        send(ps, q, 5, "A", 0);
        List<String> problems = new ArrayList<>();
        for (int k = 1; k <= 5; k++) {
            Message m = c1.receive(RECEIVE_TIMEOUT_MS);
            if (m == null) throw new Failure("consumer 1 did not receive A" + k + " within " + RECEIVE_TIMEOUT_MS + " ms");
            expectEq(problems, "consumer 1 body", "A" + k, ((TextMessage) m).getText());
            expectEq(problems, "consumer 1 A" + k + " JMSXGroupID", "A", m.getStringProperty("JMSXGroupID"));
        }
        fail("group owner (consumer 1)", problems);

        step("consumer 2 attaches; send B1,A6,B2,A7,B3,A8");
        Connection conn2 = connect(url, null);
        Session s2 = conn2.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer c2 = s2.createConsumer(s2.createQueue(queueName));
        Thread.sleep(SETTLE_MS);
        MessageProducer p = ps.createProducer(q);
        for (int k = 1; k <= 3; k++) {
            p.send(groupMessage(ps, "B", k, 100 + k));
            p.send(groupMessage(ps, "A", 5 + k, 4 + k));
        }

        step("consumer 2 receives B1..B3 only");
        for (int k = 1; k <= 3; k++) {
            Message m = c2.receive(RECEIVE_TIMEOUT_MS);
            if (m == null) {
                problems.add("consumer 2 did not receive B" + k + " within " + RECEIVE_TIMEOUT_MS
                        + " ms (group B should go to the consumer owning the fewest groups)");
                break;
            }
            String body = ((TextMessage) m).getText();
            if (!body.equals("B" + k)) {
                problems.add("consumer 2 expected B" + k + " but got " + summary(m)
                        + (body.startsWith("A") ? " (group A is owned by live consumer 1)" : ""));
            }
        }
        step("consumer 2 must receive nothing more while consumer 1 owns group A (receive " + QUIET_MS + " ms)");
        Message stray = c2.receive(QUIET_MS);
        if (stray != null) problems.add("consumer 2 received " + summary(stray) + " while consumer 1 owned group A");
        fail("group B at consumer 2", problems);

        step("close consumer 1's connection");
        long t0 = System.nanoTime();
        conn1.close();
        long closeMs = (System.nanoTime() - t0) / 1_000_000;
        details.put("closeMs", closeMs);
        if (closeMs > 5_000) {
            problems.add("closing consumer 1's connection took " + closeMs + " ms (Qpid JMS drains the link on stop;"
                    + " an unanswered drain or close waits for amqp.drainTimeout/jms.closeTimeout)");
        }

        step("consumer 2 receives A1..A8");
        List<Map<String, Object>> got = receiveAll(c2, 8, "consumer 2", problems);
        details.put("consumer2", got);
        for (int i = 0; i < got.size(); i++) {
            expectEq(problems, "consumer 2 after failover, message " + i + " body", "A" + (i + 1), got.get(i).get("body"));
        }
        checkRedelivery(got, 0, 5, 8, problems, "consumer 2 group A");
        Message extra = c2.receive(300);
        if (extra != null) problems.add("consumer 2: unexpected extra message " + summary(extra));
        fail("group failover", problems);
        conn2.close();
        pc.close();
    }

    // ------------------------------------------------------------------ helpers: messaging

    static Connection connect(String base, String extra) throws JMSException {
        String debugOptions = System.getenv("CONVOY_JMS_URL_OPTIONS"); // e.g. jms.receiveLocalOnly=true, for diagnosis only
        String url = base + (base.contains("?") ? "&" : "?") + CLIENT_OPTIONS + (extra == null ? "" : "&" + extra)
                + (debugOptions == null || debugOptions.isBlank() ? "" : "&" + debugOptions);
        details.putIfAbsent("url", url);
        step("connect " + url);
        Connection c = new JmsConnectionFactory(url).createConnection();
        c.start();
        return c;
    }

    static Map<String, Object> typedProperties(int i) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("pInt", i * 1000 - 7);
        p.put("pLong", i * 10_000_000_000L + 1);
        p.put("pByte", (byte) (i - 50));
        p.put("pShort", (short) (i * 300 - 15000));
        p.put("pFloat", i + 0.5f);
        p.put("pDouble", i * 1.25d - 3);
        p.put("pBool", i % 2 == 0);
        p.put("pString", "s-" + i + "-\u00fc\u20ac");
        return p;
    }

    static Map<String, Object> mapBody() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("int", 42);
        m.put("long", 1L << 40);
        m.put("short", (short) -3);
        m.put("byte", (byte) 7);
        m.put("float", 1.5f);
        m.put("double", -2.25d);
        m.put("bool", true);
        m.put("string", "h\u00e9llo");
        m.put("char", 'x');
        m.put("bytes", new byte[] {1, 2, 3, (byte) 0xff});
        return m;
    }

    static List<Object> streamBody() {
        return List.of(7, "two", 3L, true, (byte) -1, (short) 300, 2.5d, 0.25f, new byte[] {9, 8, 7});
    }

    static Message groupMessage(Session s, String group, int k, int n) throws JMSException {
        TextMessage m = s.createTextMessage(group + k);
        m.setStringProperty("JMSXGroupID", group);
        m.setIntProperty("n", n);
        return m;
    }

    /** Sends count messages (n = first..) on a fresh producer, optional group id; body = group+k or "m"+n. */
    static void send(Session s, Queue q, int count, String group, int first) throws JMSException {
        MessageProducer p = s.createProducer(q);
        for (int i = 0; i < count; i++) {
            if (group != null) {
                p.send(groupMessage(s, group, first + i + 1, first + i));
            } else {
                TextMessage m = s.createTextMessage("m" + (first + i));
                m.setIntProperty("n", first + i);
                p.send(m);
            }
        }
        p.close();
    }

    static List<Map<String, Object>> receiveAll(MessageConsumer c, int count, String who, List<String> problems)
            throws JMSException {
        List<Map<String, Object>> got = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Message m = c.receive(RECEIVE_TIMEOUT_MS);
            if (m == null) {
                problems.add(who + " received only " + i + " of " + count + " messages (waited " + RECEIVE_TIMEOUT_MS + " ms)");
                break;
            }
            got.add(record(m));
        }
        return got;
    }

    /**
     * got[i] must be n = i, every message redelivered. Convoy returns every unsettled delivery of a closing
     * consumer with delivery-count + 1, prefetched ones included (Artemis does not count those), so each
     * message here arrives with JMSXDeliveryCount >= 2. [from, to) were handed to the application, which
     * Qpid JMS settles modified{delivery-failed} on close: those may show one more (3).
     */
    static void checkRedelivery(List<Map<String, Object>> got, int from, int to, int total, List<String> problems, String who) {
        for (int i = 0; i < got.size(); i++) {
            Map<String, Object> r = got.get(i);
            expectEq(problems, who + " message " + i + " n (order)", i, r.get("n"));
            int dc = (Integer) r.get("dc");
            int max = i >= from && i < to ? 3 : 2;
            if (dc < 2 || dc > max) problems.add(who + " message n=" + r.get("n") + " JMSXDeliveryCount " + dc + ", expected 2.." + max);
            expectEq(problems, who + " message n=" + r.get("n") + " JMSRedelivered", true, r.get("redelivered"));
        }
        if (got.size() != total) problems.add(who + ": expected " + total + " messages, got " + got.size());
    }

    static Map<String, Object> record(Message m) throws JMSException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("body", m instanceof TextMessage t ? t.getText() : kindOf(m));
        r.put("n", m.propertyExists("n") ? m.getIntProperty("n") : null);
        r.put("dc", m.getIntProperty("JMSXDeliveryCount"));
        r.put("redelivered", m.getJMSRedelivered());
        String g = m.getStringProperty("JMSXGroupID");
        if (g != null) r.put("group", g);
        return r;
    }

    /** Collects messages delivered to a MessageListener. */
    static final class Collector implements jakarta.jms.MessageListener {
        final String name;
        final List<Map<String, Object>> messages = Collections.synchronizedList(new ArrayList<>());
        final List<String> errors = Collections.synchronizedList(new ArrayList<>());

        Collector(String name) {
            this.name = name;
        }

        @Override
        public void onMessage(Message m) {
            try {
                Map<String, Object> r = record(m);
                r.put("groupSeq", m.propertyExists("JMSXGroupSeq") ? m.getIntProperty("JMSXGroupSeq") : null);
                messages.add(r);
            } catch (Throwable t) {
                errors.add(name + ": listener failed: " + describe(t));
            }
        }

        int size() {
            return messages.size();
        }

        List<String> bodies() {
            synchronized (messages) {
                return messages.stream().map(r -> String.valueOf(r.get("body"))).toList();
            }
        }

        List<String> snapshot() {
            return bodies();
        }

        Integer groupSeqOf(String body) {
            synchronized (messages) {
                for (Map<String, Object> r : messages) {
                    if (body.equals(r.get("body"))) return (Integer) r.get("groupSeq");
                }
            }
            return null;
        }
    }

    static void awaitTotal(int total, Collector... cs) throws InterruptedException {
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (System.nanoTime() < deadline) {
            int n = 0;
            for (Collector c : cs) n += c.size();
            if (n >= total) return;
            Thread.sleep(20);
        }
    }

    /** Each group wholly at one consumer, in send order, each message exactly once. Returns group -> owner. */
    static Map<String, String> checkGroups(Map<String, Integer> sent, List<String> problems, Collector... cs) {
        Map<String, String> owners = new LinkedHashMap<>();
        for (Map.Entry<String, Integer> e : sent.entrySet()) {
            String g = e.getKey();
            List<String> expected = new ArrayList<>();
            for (int k = 1; k <= e.getValue(); k++) expected.add(g + k);
            List<String> at = new ArrayList<>();
            for (Collector c : cs) {
                List<String> mine = c.bodies().stream().filter(b -> b.matches(g + "\\d+")).toList();
                if (!mine.isEmpty()) {
                    at.add(c.name);
                    owners.put(g, c.name);
                    if (!mine.equals(expected)) {
                        problems.add("group " + g + " at " + c.name + ": expected " + expected + ", got " + mine);
                    }
                }
            }
            if (at.isEmpty()) problems.add("group " + g + ": no message received");
            if (at.size() > 1) problems.add("group " + g + " split across consumers " + at);
        }
        for (Collector c : cs) {
            for (Map<String, Object> r : new ArrayList<>(c.messages)) {
                if (!Integer.valueOf(1).equals(r.get("dc"))) {
                    problems.add(c.name + ": " + r.get("body") + " has JMSXDeliveryCount " + r.get("dc") + ", expected 1");
                }
            }
        }
        return owners;
    }

    static Boolean anonymousRelaySupported(Connection c) {
        // Not public API: JmsConnection.provider -> AmqpProvider.connection -> getProperties().
        try {
            Object provider = field(c, "provider");
            while (provider != null && !provider.getClass().getName().endsWith(".AmqpProvider")) {
                provider = provider.getClass().getMethod("getNext").invoke(provider);
            }
            if (provider == null) return null;
            Object amqp = field(provider, "connection");
            Object props = amqp.getClass().getMethod("getProperties").invoke(amqp);
            return (Boolean) props.getClass().getMethod("isAnonymousRelaySupported").invoke(props);
        } catch (Exception e) {
            details.put("anonymousRelayProbeError", e.toString());
            return null;
        }
    }

    static Object field(Object o, String name) throws ReflectiveOperationException {
        for (Class<?> k = o.getClass(); k != null; k = k.getSuperclass()) {
            try {
                Field f = k.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(o);
            } catch (NoSuchFieldException ignored) {
                // try the superclass
            }
        }
        throw new NoSuchFieldException(name);
    }

    // ------------------------------------------------------------------ helpers: checks and output

    static void step(String s) {
        details.put("step", s);
    }

    static void expectEq(List<String> problems, String what, Object expected, Object actual) {
        if (expected == null ? actual != null : !expected.equals(actual)) {
            problems.add(what + ": expected " + typed(expected) + ", got " + typed(actual));
        }
    }

    static void fail(String phase, List<String> problems) throws Failure {
        if (problems.isEmpty()) return;
        List<String> shown = problems.size() > 20 ? problems.subList(0, 20) : problems;
        details.put("problems", new ArrayList<>(problems));
        throw new Failure(phase + ": " + problems.size() + " problem(s): " + String.join("; ", shown));
    }

    static String destinationName(Destination d) throws JMSException {
        if (d == null) return null;
        if (d instanceof jakarta.jms.Queue q) return "queue://" + q.getQueueName();
        if (d instanceof jakarta.jms.Topic t) return "topic://" + t.getTopicName();
        return d.toString();
    }

    static String kindOf(Message m) {
        if (m == null) return "nothing (receive timed out)";
        for (Class<?> k : new Class<?>[] {TextMessage.class, BytesMessage.class, MapMessage.class,
                StreamMessage.class, jakarta.jms.ObjectMessage.class}) {
            if (k.isInstance(m)) return k.getSimpleName();
        }
        return "Message";
    }

    static String summary(Message m) {
        try {
            return kindOf(m) + record(m);
        } catch (JMSException e) {
            return kindOf(m);
        }
    }

    static String typed(Object v) {
        if (v == null) return "null";
        String value = v instanceof byte[] b ? hex(b, 16) : String.valueOf(v);
        return v.getClass().getSimpleName() + "(" + value + ")";
    }

    static String hex(byte[] b, int max) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < Math.min(b.length, max); i++) sb.append(i == 0 ? "" : " ").append(String.format("%02x", b[i]));
        return sb.append(b.length > max ? " ...]" : "]").toString();
    }

    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (sb.length() > 0) sb.append(" <- caused by ");
            sb.append(c.getClass().getName()).append(": ").append(c.getMessage());
        }
        return sb.toString();
    }

    static synchronized void emit(boolean ok, String error) {
        if (!emitted.compareAndSet(false, true)) return;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("scenario", scenarioName);
        out.put("ok", ok);
        if (error != null) out.put("error", error);
        synchronized (details) {
            for (Map.Entry<String, Object> e : details.entrySet()) {
                if (!ok || !e.getKey().equals("step")) out.put(e.getKey(), e.getValue());
            }
        }
        System.out.println(Json.write(out));
        System.out.flush();
    }

    static void dumpThreads() {
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            System.err.println("thread " + e.getKey().getName());
            for (StackTraceElement s : e.getValue()) System.err.println("    at " + s);
        }
    }
}
