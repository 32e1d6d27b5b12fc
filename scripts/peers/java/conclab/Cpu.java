// The cpu task (CONTRACT.md, "Task i"): a chain of SHA-256, h = the 8-byte big-endian i,
// then K times h = SHA-256(h); its value, the first 8 bytes of h, big-endian.
package conclab;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

final class Cpu {
    static long chain(long id, long rounds) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        byte[] h = ByteBuffer.allocate(8).putLong(id).array();
        for (long k = 0; k < rounds; k++) {
            h = sha.digest(h);
        }
        return ByteBuffer.wrap(h, 0, 8).getLong();
    }
}
