package convoy.interop;

import static convoy.interop.Scenario.QUIET_MS;
import static convoy.interop.Scenario.RECEIVE_TIMEOUT_MS;
import static convoy.interop.Scenario.SETTLE_MS;
import static convoy.interop.Scenario.connect;
import static convoy.interop.Scenario.details;
import static convoy.interop.Scenario.fail;
import static convoy.interop.Scenario.step;
import static convoy.interop.Scenario.summary;

import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.InvalidDestinationException;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TemporaryTopic;
import jakarta.jms.TextMessage;
import jakarta.jms.Topic;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Topic scenarios (run through {@link Scenario}): JMS publish/subscribe as Qpid JMS maps it to AMQP,
 * each checked against README "Topics and subscriptions". Every scenario reports what each consumer
 * received (as lists of the messages' "n" property) so the test can state the expectation too.
 */
final class TopicScenarios {
    private TopicScenarios() {}

    // ------------------------------------------------------------------ fan-out

    /** Two subscribers each get every message, in order; a subscriber made later gets none of them. */
    static void fanout(String url) throws Exception {
        Connection c = connect(url, null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Topic topic = s.createTopic("jms.topic.fanout");
        MessageConsumer a = s.createConsumer(topic);
        MessageConsumer b = s.createConsumer(topic);
        Thread.sleep(SETTLE_MS);
        step("publish 20");
        publish(s, topic, 0, 20, DeliveryMode.NON_PERSISTENT);
        MessageConsumer late = s.createConsumer(topic);
        List<String> problems = new ArrayList<>();
        details.put("a", receiveNs(a, 20, "subscriber a", problems));
        details.put("b", receiveNs(b, 20, "subscriber b", problems));
        step("the subscriber made after publishing gets nothing (receive " + QUIET_MS + " ms)");
        Message stray = late.receive(QUIET_MS);
        details.put("late", stray == null ? List.of() : List.of(stray.getIntProperty("n")));
        step("the later subscriber gets what is published next, addressed to the topic");
        publish(s, topic, 20, 1, DeliveryMode.NON_PERSISTENT);
        Message next = late.receive(RECEIVE_TIMEOUT_MS);
        details.put("lateDestination", next == null ? null : Scenario.destinationName(next.getJMSDestination()));
        fail("fan-out", problems);
        c.close();
    }

    // ------------------------------------------------------------------ durable subscriptions

    /**
     * A durable subscriber (unshared, client id) does not get what was published before it subscribed;
     * it survives its consumer closing (link detach), and gets on re-attach what was published
     * meanwhile, after what it had not acknowledged; unsubscribe removes it with its messages; removing
     * it while another connection consumes from it fails; removing one that does not exist fails with
     * InvalidDestinationException.
     */
    static void durable(String url) throws Exception {
        Connection c = connect(url, "jms.clientID=convoy-durable");
        Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        Topic topic = s.createTopic("jms.topic.durable");
        publish(s, topic, 100, 1, DeliveryMode.PERSISTENT); // before the subscription: never seen
        step("subscribe, publish 0..4, acknowledge 0..1");
        MessageConsumer sub = s.createDurableConsumer(topic, "audit");
        publish(s, topic, 0, 5, DeliveryMode.PERSISTENT);
        List<String> problems = new ArrayList<>();
        List<Integer> first = receiveNs(sub, 2, "durable subscriber", problems, true);
        details.put("first", first);
        step("close the consumer; publish 5..7 while it is gone");
        sub.close();
        publish(s, topic, 5, 3, DeliveryMode.PERSISTENT);
        step("re-attach: 2..7");
        sub = s.createDurableConsumer(topic, "audit");
        details.put("resumed", receiveNs(sub, 6, "re-attached durable subscriber", problems, true));
        expectNothing(sub, "re-attached durable subscriber", problems);

        step("unsubscribe while another connection consumes from it");
        Connection other = connect(url, "jms.clientID=convoy-durable-other");
        Session os = other.createSession(false, Session.AUTO_ACKNOWLEDGE);
        sub.close();
        Connection holder = connect(url, "jms.clientID=convoy-durable");
        MessageConsumer held = holder.createSession(false, Session.AUTO_ACKNOWLEDGE).createDurableConsumer(topic, "audit");
        try {
            s.unsubscribe("audit");
            problems.add("unsubscribe succeeded while another connection's consumer was attached");
        } catch (JMSException e) {
            details.put("unsubscribeWhileActive", e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        held.close();
        holder.close();

        step("unsubscribe, publish 8, subscribe again");
        publish(s, topic, 8, 1, DeliveryMode.PERSISTENT);
        s.unsubscribe("audit");
        publish(s, topic, 9, 1, DeliveryMode.PERSISTENT);
        sub = s.createDurableConsumer(topic, "audit");
        publish(s, topic, 10, 1, DeliveryMode.PERSISTENT);
        details.put("afterUnsubscribe", receiveNs(sub, 1, "new durable subscriber", problems, true));
        expectNothing(sub, "new durable subscriber", problems);
        sub.close();
        s.unsubscribe("audit");

        step("unsubscribe a subscription that does not exist");
        try {
            os.unsubscribe("never-made");
            problems.add("unsubscribing a subscription that does not exist succeeded");
        } catch (InvalidDestinationException e) {
            details.put("unsubscribeMissing", e.getClass().getSimpleName());
        }
        other.close();
        fail("durable subscription", problems);
        c.close();
    }

    /**
     * One durable subscription, unshared ("keep", client id convoy-restart), and one shared durable
     * ("pool", global), across broker restarts; the test restarts the broker between phases (SIGTERM
     * after phase 1, SIGKILL after phases 2 and 3). Non-persistent messages do not survive a restart.
     */
    static void durableRestart(String url, int phase) throws Exception {
        Connection c = connect(url, "jms.clientID=convoy-restart&jms.prefetchPolicy.all=2");
        Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        Topic topic = s.createTopic("jms.topic.restart");
        List<String> problems = new ArrayList<>();
        switch (phase) {
            case 1 -> {
                publish(s, topic, 100, 1, DeliveryMode.PERSISTENT); // before the subscriptions: never seen
                MessageConsumer keep = s.createDurableConsumer(topic, "keep");
                MessageConsumer pool = s.createSharedDurableConsumer(topic, "pool");
                step("publish 0..11 (5 and 9 non-persistent), keep receives and acknowledges 0..2");
                for (int n = 0; n < 12; n++) publish(s, topic, n, 1, n == 5 || n == 9 ? DeliveryMode.NON_PERSISTENT : DeliveryMode.PERSISTENT);
                details.put("keep", receiveNs(keep, 3, "keep", problems, true));
                keep.close();
                pool.close();
            }
            case 2 -> {
                MessageConsumer keep = s.createDurableConsumer(topic, "keep");
                step("keep receives and acknowledges 4 after a restart");
                details.put("keep", receiveNs(keep, 4, "keep", problems, true));
                keep.close();
            }
            case 3 -> {
                MessageConsumer keep = s.createDurableConsumer(topic, "keep");
                MessageConsumer pool = s.createSharedDurableConsumer(topic, "pool");
                step("after a kill -9: keep receives the rest, pool everything persistent");
                details.put("keep", receiveNs(keep, 3, "keep", problems, true));
                details.put("pool", receiveNs(pool, 10, "pool", problems, true));
                expectNothing(keep, "keep", problems);
                expectNothing(pool, "pool", problems);
                keep.close();
                pool.close();
                step("unsubscribe both");
                s.unsubscribe("keep");
                s.unsubscribe("pool");
            }
            case 4 -> {
                step("after another kill -9 the subscriptions stay removed");
                Map<String, String> unsubscribed = new LinkedHashMap<>();
                for (String name : List.of("keep", "pool")) {
                    try {
                        s.unsubscribe(name);
                        problems.add("subscription " + name + " came back after the restart");
                    } catch (InvalidDestinationException e) {
                        unsubscribed.put(name, e.getClass().getSimpleName());
                    }
                }
                details.put("unsubscribeAgain", unsubscribed);
            }
            default -> throw new Scenario.Failure("unknown phase " + phase);
        }
        fail("durable restart phase " + phase, problems);
        c.close();
    }

    // ------------------------------------------------------------------ shared subscriptions

    /**
     * A shared durable subscription with two consumers (one connection, client id: links pool, pool|2)
     * and a shared non-durable one with two consumers on two connections without client id (global:
     * links vpool|global-volatile1 on each) split the messages: each consumer gets some, together each
     * message exactly once.
     */
    static void shared(String url) throws Exception {
        Connection c = connect(url, "jms.clientID=convoy-shared");
        Topic topic = c.createSession(false, Session.AUTO_ACKNOWLEDGE).createTopic("jms.topic.shared");
        Scenario.Collector d1 = new Scenario.Collector("d1"), d2 = new Scenario.Collector("d2");
        listenShared(c, topic, "pool", d1, d2);
        Connection g1 = connect(url, null);
        Connection g2 = connect(url, null);
        Scenario.Collector v1 = new Scenario.Collector("v1"), v2 = new Scenario.Collector("v2");
        g1.createSession(false, Session.AUTO_ACKNOWLEDGE).createSharedConsumer(topic, "vpool").setMessageListener(v1);
        g2.createSession(false, Session.AUTO_ACKNOWLEDGE).createSharedConsumer(topic, "vpool").setMessageListener(v2);
        Thread.sleep(SETTLE_MS);
        step("publish 40");
        Session ps = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        publish(ps, topic, 0, 40, DeliveryMode.PERSISTENT);
        Scenario.awaitTotal(80, d1, d2, v1, v2);
        Thread.sleep(300);
        List<String> problems = new ArrayList<>();
        for (Scenario.Collector collector : List.of(d1, d2, v1, v2)) {
            problems.addAll(collector.errors);
            details.put(collector.name, ns(collector));
        }
        fail("shared subscriptions", problems);
        g1.close();
        g2.close();
        c.close();
        unsubscribe(url, "convoy-shared", "pool");
    }

    /**
     * Message groups inside a shared subscription (Pulsar's Key_Shared): two consumers on one shared
     * durable subscription, groups A..D interleaved; every group goes wholly to one consumer, in order.
     */
    static void sharedGroups(String url) throws Exception {
        Connection c = connect(url, "jms.clientID=convoy-groups&jms.prefetchPolicy.all=10");
        Topic topic = c.createSession(false, Session.AUTO_ACKNOWLEDGE).createTopic("jms.topic.groups");
        Scenario.Collector c1 = new Scenario.Collector("c1"), c2 = new Scenario.Collector("c2");
        listenShared(c, topic, "workers", c1, c2);
        Thread.sleep(SETTLE_MS);
        step("publish grouped messages");
        Session ps = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = ps.createProducer(topic);
        String[] pattern = {"A", "B", "A", "C", "B", "A", "D", "C", "D"};
        Map<String, Integer> sent = new LinkedHashMap<>();
        int total = 0;
        for (int round = 0; round < 4; round++) {
            for (String g : pattern) {
                int k = sent.merge(g, 1, Integer::sum);
                p.send(Scenario.groupMessage(ps, g, k, total++));
            }
        }
        Scenario.awaitTotal(total, c1, c2);
        Thread.sleep(300);
        List<String> problems = new ArrayList<>();
        problems.addAll(c1.errors);
        problems.addAll(c2.errors);
        details.put("owners", Scenario.checkGroups(sent, problems, c1, c2));
        details.put("received", Map.of("c1", c1.bodies(), "c2", c2.bodies()));
        fail("groups in a shared subscription", problems);
        c.close();
        unsubscribe(url, "convoy-groups", "workers");
    }

    /**
     * Exclusive consumers inside a shared subscription (topic address option consumer.exclusive=true):
     * consumer 1 (CLIENT_ACKNOWLEDGE) receives everything while consumer 2 waits; when consumer 1's
     * connection closes, consumer 2 gets all 10 in order, the unacknowledged ones redelivered.
     */
    static void exclusive(String url) throws Exception {
        String address = "jms.topic.excl?consumer.exclusive=true";
        // No client id: a global shared subscription, so consumers on two connections share it.
        Connection g1 = connect(url, null);
        Session gs1 = g1.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer c1 = gs1.createSharedConsumer(gs1.createTopic(address), "excl");
        Thread.sleep(SETTLE_MS); // consumer 1 attaches first: the earliest exclusive consumer is the active one
        Connection g2 = connect(url, null);
        Session gs2 = g2.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer c2 = gs2.createSharedConsumer(gs2.createTopic(address), "excl");
        Thread.sleep(SETTLE_MS);
        step("publish 10");
        Connection pc = connect(url, null);
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        publish(ps, ps.createTopic("jms.topic.excl"), 0, 10, DeliveryMode.NON_PERSISTENT);
        List<String> problems = new ArrayList<>();
        step("consumer 1 receives 0..3 without acknowledging; consumer 2 nothing");
        details.put("consumer1", receiveNs(c1, 4, "consumer 1", problems));
        Message stray = c2.receive(QUIET_MS);
        if (stray != null) problems.add("consumer 2 received " + summary(stray) + " while consumer 1 was the active exclusive consumer");
        fail("exclusive consumer 1", problems);
        step("close consumer 1's connection; consumer 2 takes over");
        g1.close();
        List<Map<String, Object>> got = Scenario.receiveAll(c2, 10, "consumer 2", problems);
        details.put("consumer2", got);
        expectNothing(c2, "consumer 2", problems);
        fail("exclusive failover in a subscription", problems);
        g2.close();
        pc.close();
    }

    // ------------------------------------------------------------------ transactions

    /**
     * A transacted session publishes to a topic: nothing reaches the subscribers before the commit, the
     * commit reaches both (one subscribed between the send and the commit too: the copies are made at
     * the commit), a rollback reaches neither.
     */
    static void transacted(String url) throws Exception {
        Connection c = connect(url, null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Topic topic = s.createTopic("jms.topic.tx");
        MessageConsumer early = s.createConsumer(topic);
        Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
        MessageProducer producer = tx.createProducer(topic);
        Thread.sleep(SETTLE_MS);
        step("publish 0..2 in a transaction: nothing arrives before the commit");
        for (int n = 0; n < 3; n++) {
            TextMessage m = tx.createTextMessage("m" + n);
            m.setIntProperty("n", n);
            producer.send(m);
        }
        List<String> problems = new ArrayList<>();
        expectNothing(early, "subscriber before the commit", problems);
        MessageConsumer late = s.createConsumer(topic);
        Thread.sleep(SETTLE_MS);
        step("commit");
        tx.commit();
        details.put("early", receiveNs(early, 3, "early subscriber", problems));
        details.put("late", receiveNs(late, 3, "subscriber made before the commit", problems));
        step("publish 3 and roll back");
        TextMessage rolledBack = tx.createTextMessage("m3");
        rolledBack.setIntProperty("n", 3);
        producer.send(rolledBack);
        tx.rollback();
        expectNothing(early, "early subscriber after the rollback", problems);
        fail("transacted publish", problems);
        c.close();
    }

    // ------------------------------------------------------------------ temporary topics and name clashes

    /**
     * A temporary topic: its connection's consumer gets what another connection publishes to it; once it
     * is deleted (TemporaryTopic.delete) or its connection closes, a producer to it (on the other
     * connection) is refused.
     */
    static void temporaryTopic(String url) throws Exception {
        Connection owner = connect(url, null);
        Session s = owner.createSession(false, Session.AUTO_ACKNOWLEDGE);
        TemporaryTopic temp = s.createTemporaryTopic();
        details.put("name", temp.getTopicName());
        MessageConsumer consumer = s.createConsumer(temp);
        Connection other = connect(url, null);
        Session os = other.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Thread.sleep(SETTLE_MS);
        step("another connection publishes 3 to the temporary topic");
        publish(os, temp, 0, 3, DeliveryMode.NON_PERSISTENT);
        List<String> problems = new ArrayList<>();
        details.put("received", receiveNs(consumer, 3, "temporary topic consumer", problems));
        fail("temporary topic", problems);
        step("delete a second temporary topic; a producer to it is refused");
        TemporaryTopic deleted = s.createTemporaryTopic();
        publish(os, deleted, 0, 1, DeliveryMode.NON_PERSISTENT);
        deleted.delete();
        details.put("afterDelete", refusedProducer(os, deleted, "the deleted temporary topic", problems));
        step("close the owner's connection; a producer to the temporary topic is refused");
        owner.close();
        details.put("afterClose", refusedProducer(os, temp, "the temporary topic after its connection closed", problems));
        fail("temporary topic after its connection closed", problems);
        other.close();
    }

    /**
     * One name is a queue or a topic, never both (README): jms.clash is a queue (a message waits in it),
     * so a topic subscriber and a topic producer on that name are refused with InvalidDestinationException;
     * jms.clash.t is a topic, so a queue consumer on it is refused. The queue's message is untouched.
     */
    static void clash(String url) throws Exception {
        Connection c = connect(url, null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer queueProducer = s.createProducer(s.createQueue("jms.clash"));
        TextMessage waiting = s.createTextMessage("still here");
        queueProducer.send(waiting);
        Map<String, String> refusals = new LinkedHashMap<>();
        refusals.put("topicConsumerOnQueue", refusal(() -> s.createConsumer(s.createTopic("jms.clash")).close()));
        refusals.put("topicProducerOnQueue", refusal(() -> s.createProducer(s.createTopic("jms.clash")).close()));
        s.createConsumer(s.createTopic("jms.clash.t")).close();
        refusals.put("queueConsumerOnTopic", refusal(() -> s.createConsumer(s.createQueue("jms.clash.t")).close()));
        MessageProducer anonymous = s.createProducer(null);
        refusals.put("anonymousSendToQueueAsTopic", refusal(() -> anonymous.send(s.createTopic("jms.clash"), s.createTextMessage("no"))));
        details.put("refusals", refusals);
        Message m = s.createConsumer(s.createQueue("jms.clash")).receive(RECEIVE_TIMEOUT_MS);
        details.put("queueMessage", m instanceof TextMessage t ? t.getText() : String.valueOf(m));
        c.close();
    }

    // ------------------------------------------------------------------ helpers

    /** A producer to a temporary topic that is gone must be refused: the exception's class, or null (a problem). */
    static String refusedProducer(Session s, TemporaryTopic topic, String what, List<String> problems) throws Exception {
        Thread.sleep(SETTLE_MS); // the deletion reaches the broker
        try {
            s.createProducer(topic).send(s.createTextMessage("too late"));
            problems.add("a producer to " + what + " worked");
            return null;
        } catch (InvalidDestinationException e) {
            return e.getClass().getSimpleName();
        }
    }

    /** One shared durable consumer of subscription `name` per collector, each on a session of its own. */
    static void listenShared(Connection c, Topic topic, String name, Scenario.Collector... collectors) throws JMSException {
        for (Scenario.Collector collector : collectors) {
            c.createSession(false, Session.AUTO_ACKNOWLEDGE).createSharedDurableConsumer(topic, name).setMessageListener(collector);
        }
    }

    /** Removes a durable subscription once its consumers' connection has closed, so the broker is left clean. */
    static void unsubscribe(String url, String clientId, String name) throws JMSException {
        Connection c = connect(url, "jms.clientID=" + clientId);
        c.createSession(false, Session.AUTO_ACKNOWLEDGE).unsubscribe(name);
        c.close();
    }

    interface JmsAction {
        void run() throws JMSException;
    }

    /** The exception an action raised ("ExceptionClass: message"); fails if it succeeded. */
    static String refusal(JmsAction action) throws Scenario.Failure {
        try {
            action.run();
        } catch (JMSException e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
        throw new Scenario.Failure("the action succeeded; expected a refusal");
    }

    static void publish(Session s, Topic topic, int first, int count, int deliveryMode) throws JMSException {
        MessageProducer p = s.createProducer(topic);
        for (int n = first; n < first + count; n++) {
            TextMessage m = s.createTextMessage("m" + n);
            m.setIntProperty("n", n);
            p.send(m, deliveryMode, Message.DEFAULT_PRIORITY, Message.DEFAULT_TIME_TO_LIVE);
        }
        p.close();
    }

    /** The "n" of up to `count` messages, in the order received; a shortfall is a problem. Acknowledges nothing. */
    static List<Integer> receiveNs(MessageConsumer c, int count, String who, List<String> problems) throws JMSException {
        return receiveNs(c, count, who, problems, false);
    }

    /** As above; with `acknowledge`, each message is acknowledged (CLIENT_ACKNOWLEDGE) once received. */
    static List<Integer> receiveNs(MessageConsumer c, int count, String who, List<String> problems, boolean acknowledge) throws JMSException {
        List<Integer> ns = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Message m = c.receive(RECEIVE_TIMEOUT_MS);
            if (m == null) {
                problems.add(who + " received only " + i + " of " + count + " messages (waited " + RECEIVE_TIMEOUT_MS + " ms): " + ns);
                break;
            }
            ns.add(m.getIntProperty("n"));
            if (acknowledge) m.acknowledge();
        }
        return ns;
    }

    static void expectNothing(MessageConsumer c, String who, List<String> problems) throws JMSException {
        Message extra = c.receive(QUIET_MS);
        if (extra != null) problems.add(who + ": unexpected extra message " + summary(extra));
    }

    static List<Object> ns(Scenario.Collector collector) {
        synchronized (collector.messages) {
            List<Object> out = new ArrayList<>();
            for (Map<String, Object> r : collector.messages) out.add(r.get("n"));
            return Collections.unmodifiableList(out);
        }
    }
}
