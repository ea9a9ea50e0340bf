package convoy.interop;

import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.InvalidSelectorException;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Queue;
import jakarta.jms.QueueBrowser;
import jakarta.jms.Session;
import jakarta.jms.TemporaryQueue;
import jakarta.jms.TextMessage;
import jakarta.jms.Topic;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Issue 11 scenarios (run through {@link Scenario}): message selectors, selectors with message groups,
 * QueueBrowser, message priority, delayed delivery and temporary queues as a Qpid JMS application uses them. The
 * delayed-delivery-across-restart scenario has two halves (send, then receive after the test has
 * restarted or killed the broker); its queue and timing travel in CONVOY_JMS_QUEUE and
 * CONVOY_JMS_SENT_AT_MS.
 */
final class JmsFeatureScenarios {
    private JmsFeatureScenarios() {}

    /** A consumer with selector color = 'red' gets the red messages only; a plain consumer then gets the rest. */
    static void selector(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("jms.selector");
            MessageConsumer red = s.createConsumer(q, "color = 'red'");
            Thread.sleep(Scenario.SETTLE_MS);
            Scenario.step("send 10, red and blue alternating");
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 10; i++) {
                TextMessage m = s.createTextMessage((i % 2 == 0 ? "red" : "blue") + i);
                m.setStringProperty("color", i % 2 == 0 ? "red" : "blue");
                p.send(m);
            }
            Scenario.step("the red consumer receives the red ones only");
            Scenario.details.put("red", bodies(red, 5));
            Message extra = red.receive(Scenario.QUIET_MS);
            Scenario.details.put("redExtra", extra == null ? null : ((TextMessage) extra).getText());
            red.close();
            Scenario.step("a consumer without a selector receives the blue ones");
            Scenario.details.put("rest", bodies(s.createConsumer(q), 5));
        } finally {
            c.close();
        }
    }

    /**
     * Selectors on topic subscriptions: a subscriber with color = 'red' and one without get what they
     * select; a durable subscription with the selector, closed while messages are published, gets only
     * the red ones when it comes back.
     */
    static void topicSelector(String url) throws Exception {
        Connection c = Scenario.connect(url, "jms.clientID=selector-app");
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Topic topic = s.createTopic("jms.selector.topic");
            MessageConsumer red = s.createConsumer(topic, "color = 'red'");
            MessageConsumer all = s.createConsumer(topic);
            MessageConsumer durable = s.createDurableConsumer(topic, "reds", "color = 'red'", false);
            durable.close();
            Thread.sleep(Scenario.SETTLE_MS);
            MessageProducer p = s.createProducer(topic);
            for (int i = 0; i < 6; i++) {
                TextMessage m = s.createTextMessage((i % 2 == 0 ? "red" : "blue") + i);
                m.setStringProperty("color", i % 2 == 0 ? "red" : "blue");
                p.send(m);
            }
            Scenario.details.put("red", bodies(red, 3));
            Scenario.details.put("all", bodies(all, 6));
            MessageConsumer resumed = s.createDurableConsumer(topic, "reds", "color = 'red'", false);
            Scenario.details.put("durable", bodies(resumed, 3));
            Message extra = red.receive(300);
            if (extra == null) extra = resumed.receive(300);
            Scenario.details.put("extra", extra == null ? null : ((TextMessage) extra).getText());
        } finally {
            c.close();
        }
    }

    /**
     * Qpid JMS checks selectors itself unless jms.validateSelector=false; with it off the broker refuses
     * an invalid one (amqp:invalid-field naming the error) and the connection goes on.
     */
    static void selectorInvalid(String url) throws Exception {
        Connection checked = Scenario.connect(url, null);
        try {
            Session s = checked.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try {
                s.createConsumer(s.createQueue("jms.badselector"), "color = ");
                throw new Scenario.Failure("Qpid JMS accepted the selector \"color = \"");
            } catch (InvalidSelectorException e) {
                Scenario.details.put("clientSide", e.getClass().getSimpleName());
            }
        } finally {
            checked.close();
        }
        Connection c = Scenario.connect(url, "jms.validateSelector=false");
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("jms.badselector");
            Scenario.step("create a consumer with an invalid selector");
            try {
                s.createConsumer(q, "color = 'red' AND");
                throw new Scenario.Failure("the broker accepted the selector \"color = 'red' AND\"");
            } catch (JMSException e) {
                Scenario.details.put("exception", e.getClass().getSimpleName());
                Scenario.details.put("message", String.valueOf(e.getMessage()));
            }
            Scenario.step("the session goes on: a valid selector works");
            MessageConsumer ok = s.createConsumer(q, "color = 'red'");
            TextMessage m = s.createTextMessage("still working");
            m.setStringProperty("color", "red");
            s.createProducer(q).send(m);
            Scenario.details.put("after", bodies(ok, 1));
        } finally {
            c.close();
        }
    }

    /**
     * Group G: G1 red, G2 blue, G3 red. The red-selector consumer owns G and holds G1 unacknowledged;
     * G2 does not match its selector, so G waits (nothing goes to the other consumer) until G1 is
     * acknowledged; then G moves: the other consumer gets G2 and G3, in order.
     */
    static void selectorGroups(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Session redSession = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("jms.selgroups");
            MessageConsumer red = redSession.createConsumer(q, "color = 'red'");
            Thread.sleep(Scenario.SETTLE_MS);
            MessageProducer p = s.createProducer(q);
            p.send(colored(s, "G1", "G", "red"));
            Scenario.step("the red consumer gets G1");
            Message g1 = red.receive(Scenario.RECEIVE_TIMEOUT_MS);
            if (g1 == null) throw new Scenario.Failure("the red consumer did not receive G1");
            MessageConsumer other = s.createConsumer(q);
            Thread.sleep(Scenario.SETTLE_MS);
            p.send(colored(s, "G2", "G", "blue"));
            p.send(colored(s, "G3", "G", "red"));
            Scenario.step("nothing of G goes anywhere while the red consumer holds G1");
            Message early = other.receive(Scenario.QUIET_MS);
            Scenario.details.put("beforeAck", early == null ? null : ((TextMessage) early).getText());
            Message redEarly = red.receiveNoWait();
            Scenario.details.put("redBeforeAck", redEarly == null ? null : ((TextMessage) redEarly).getText());
            g1.acknowledge();
            Scenario.step("after the acknowledgement the other consumer gets G2, G3");
            Scenario.details.put("other", bodies(other, 2));
            Message redLater = red.receive(300);
            Scenario.details.put("redAfterAck", redLater == null ? null : ((TextMessage) redLater).getText());
        } finally {
            c.close();
        }
    }

    /**
     * A QueueBrowser shows the queued messages in queue order (priority, then send order) without taking
     * them, twice over and through a selector; a consumer then receives every one of them.
     */
    static void browser(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("jms.browse");
            MessageProducer p = s.createProducer(q);
            String[][] sent = {{"m1", "red", "4"}, {"m2", "blue", "4"}, {"m3", "red", "8"}, {"m4", "blue", "1"}, {"m5", "red", "4"}};
            for (String[] m : sent) {
                TextMessage t = s.createTextMessage(m[0]);
                t.setStringProperty("color", m[1]);
                p.send(t, DeliveryMode.PERSISTENT, Integer.parseInt(m[2]), 0);
            }
            Scenario.step("browse twice, then with a selector");
            Scenario.details.put("browsed", browse(s.createBrowser(q)));
            Scenario.details.put("browsedAgain", browse(s.createBrowser(q)));
            Scenario.details.put("browsedRed", browse(s.createBrowser(q, "color = 'red'")));
            Scenario.step("a consumer receives them all");
            Scenario.details.put("consumed", bodies(s.createConsumer(q), 5));
            Scenario.details.put("browsedAfter", browse(s.createBrowser(q)));
        } finally {
            c.close();
        }
    }

    /**
     * Priority 1 and 8 messages interleaved, and group A with priorities 1, 8, 1, 8: the consumer gets
     * every ungrouped 8 before every ungrouped 1, and A in send order.
     */
    static void priority(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("jms.priority");
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 10; i++) {
                int priority = i % 2 == 0 ? 1 : 8;
                p.send(s.createTextMessage("p" + priority + "-" + i), DeliveryMode.NON_PERSISTENT, priority, 0);
            }
            for (int k = 1; k <= 4; k++) {
                TextMessage m = s.createTextMessage("A" + k);
                m.setStringProperty("JMSXGroupID", "A");
                p.send(m, DeliveryMode.NON_PERSISTENT, k % 2 == 1 ? 1 : 8, 0);
            }
            Scenario.step("a consumer receives the backlog");
            MessageConsumer consumer = s.createConsumer(q);
            List<String> got = new ArrayList<>();
            Map<String, Integer> priorities = new LinkedHashMap<>();
            for (int i = 0; i < 14; i++) {
                Message m = consumer.receive(Scenario.RECEIVE_TIMEOUT_MS);
                if (m == null) break;
                String body = ((TextMessage) m).getText();
                got.add(body);
                priorities.put(body, m.getJMSPriority());
            }
            Scenario.details.put("received", got);
            Scenario.details.put("priorities", priorities);
        } finally {
            c.close();
        }
    }

    /**
     * setDeliveryDelay(1500) and a plain send: the plain one arrives first; the delayed one not before
     * its JMSDeliveryTime, which Qpid JMS reports as the send time plus the delay.
     */
    static void delay(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("jms.delay");
            MessageConsumer consumer = s.createConsumer(q);
            Thread.sleep(Scenario.SETTLE_MS);
            MessageProducer delayed = s.createProducer(q);
            delayed.setDeliveryDelay(1500);
            long sentAt = System.currentTimeMillis();
            TextMessage later = s.createTextMessage("delayed");
            delayed.send(later);
            s.createProducer(q).send(s.createTextMessage("plain"));
            Scenario.details.put("sentDeliveryTime", later.getJMSDeliveryTime() - sentAt);
            List<Map<String, Object>> got = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Message m = consumer.receive(Scenario.RECEIVE_TIMEOUT_MS);
                if (m == null) break;
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("body", ((TextMessage) m).getText());
                r.put("afterMs", System.currentTimeMillis() - sentAt);
                r.put("deliveryTimeAfterSendMs", m.getJMSDeliveryTime() - sentAt);
                got.add(r);
            }
            Scenario.details.put("received", got);
        } finally {
            c.close();
        }
    }

    /** First half: durable and non-durable messages delayed by CONVOY_JMS_DELAY_MS, and one group message after them. */
    static void delaySend(String url) throws Exception {
        String queue = System.getenv("CONVOY_JMS_QUEUE");
        long delayMs = Long.parseLong(System.getenv("CONVOY_JMS_DELAY_MS"));
        Connection c = Scenario.connect(url, null);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue(queue);
            MessageProducer delayed = s.createProducer(q);
            delayed.setDeliveryDelay(delayMs);
            long sentAt = System.currentTimeMillis();
            delayed.send(grouped(s, "D1", "G"), DeliveryMode.PERSISTENT, 4, 0);
            delayed.send(s.createTextMessage("D2"), DeliveryMode.PERSISTENT, 4, 0);
            delayed.send(s.createTextMessage("transient"), DeliveryMode.NON_PERSISTENT, 4, 0);
            s.createProducer(q).send(grouped(s, "now", "G"), DeliveryMode.PERSISTENT, 4, 0);
            Scenario.details.put("sentAtMs", sentAt);
        } finally {
            c.close();
        }
    }

    /** Second half, on the restarted broker: what arrives, when, with which JMSDeliveryTime. */
    static void delayReceive(String url) throws Exception {
        String queue = System.getenv("CONVOY_JMS_QUEUE");
        long sentAt = Long.parseLong(System.getenv("CONVOY_JMS_SENT_AT_MS"));
        Connection c = Scenario.connect(url, null);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer consumer = s.createConsumer(s.createQueue(queue));
            List<Map<String, Object>> got = new ArrayList<>();
            for (;;) {
                Message m = consumer.receive(got.size() < 3 ? 10_000 : Scenario.QUIET_MS);
                if (m == null) break;
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("body", ((TextMessage) m).getText());
                r.put("afterMs", System.currentTimeMillis() - sentAt);
                r.put("deliveryTimeAfterSendMs", m.getJMSDeliveryTime() - sentAt);
                r.put("redelivered", m.getJMSRedelivered());
                got.add(r);
            }
            Scenario.details.put("received", got);
        } finally {
            c.close();
        }
    }

    static TextMessage colored(Session s, String body, String group, String color) throws JMSException {
        TextMessage m = grouped(s, body, group);
        m.setStringProperty("color", color);
        return m;
    }

    /**
     * Temporary queues as a request-reply application uses them: the requester's TemporaryQueue is the
     * JMSReplyTo of its requests, and a responder on another connection replies to it. A second one,
     * deleted (TemporaryQueue.delete) with a message in it, and the first, once the requester's
     * connection has closed, refuse a late reply.
     */
    static void temporaryQueue(String url) throws Exception {
        Connection requester = Scenario.connect(url, null);
        Connection responder = Scenario.connect(url, null);
        try {
            Session rs = requester.createSession(false, Session.AUTO_ACKNOWLEDGE);
            TemporaryQueue replies = rs.createTemporaryQueue();
            Scenario.details.put("name", replies.getQueueName());
            MessageConsumer replyConsumer = rs.createConsumer(replies);
            Session ss = responder.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue requests = ss.createQueue("jms.temporary.requests");
            MessageConsumer requestConsumer = ss.createConsumer(requests);
            MessageProducer replyProducer = ss.createProducer(null);
            Scenario.step("send 3 requests with the temporary queue as JMSReplyTo; the responder answers each");
            MessageProducer requestProducer = rs.createProducer(requests);
            for (int i = 0; i < 3; i++) {
                TextMessage request = rs.createTextMessage("request" + i);
                request.setJMSReplyTo(replies);
                requestProducer.send(request);
            }
            for (int i = 0; i < 3; i++) {
                Message request = requestConsumer.receive(Scenario.RECEIVE_TIMEOUT_MS);
                if (request == null) break;
                replyProducer.send(request.getJMSReplyTo(), ss.createTextMessage("reply to " + ((TextMessage) request).getText()));
            }
            Scenario.details.put("replies", bodies(replyConsumer, 3));
            Scenario.step("delete a second temporary queue with a message in it; a reply to it is refused");
            TemporaryQueue deleted = rs.createTemporaryQueue();
            MessageProducer toDeleted = rs.createProducer(deleted);
            toDeleted.send(rs.createTextMessage("never read"));
            toDeleted.close();
            Scenario.details.put("deletedName", deleted.getQueueName());
            deleted.delete();
            Scenario.details.put("afterDelete", refusedSend(ss, deleted));
            Scenario.step("close the requester's connection; a late reply to its temporary queue is refused");
            requester.close();
            Scenario.details.put("afterClose", refusedSend(ss, replies));
        } finally {
            requester.close();
            responder.close();
        }
    }

    /** A send to a queue that is gone: the exception's class, or "sent". */
    static String refusedSend(Session s, Queue queue) throws InterruptedException {
        Thread.sleep(Scenario.SETTLE_MS); // the deletion reaches the broker
        try {
            s.createProducer(queue).send(s.createTextMessage("too late"));
            return "sent";
        } catch (JMSException e) {
            return e.getClass().getSimpleName();
        }
    }

    static TextMessage grouped(Session s, String body, String group) throws JMSException {
        TextMessage m = s.createTextMessage(body);
        m.setStringProperty("JMSXGroupID", group);
        return m;
    }

    static List<String> bodies(MessageConsumer consumer, int count) throws JMSException {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Message m = consumer.receive(Scenario.RECEIVE_TIMEOUT_MS);
            if (m == null) break;
            out.add(((TextMessage) m).getText());
        }
        return out;
    }

    static List<String> browse(QueueBrowser browser) throws JMSException {
        List<String> out = new ArrayList<>();
        Enumeration<?> e = browser.getEnumeration();
        while (e.hasMoreElements()) out.add(((TextMessage) e.nextElement()).getText());
        browser.close();
        return Collections.unmodifiableList(out);
    }
}
