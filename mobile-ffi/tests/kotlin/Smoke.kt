// Issue #5's proof from Kotlin (Android's language) on the JVM: the generated bindings, loaded
// through JNA, used as a teacher's phone. Run by mobile-ffi/tests/foreign.rs, which starts the
// server and stops/restarts it when this program prints `@harness stop` / `@harness start`.

import org.daftar.mobile.DaftarClient
import org.daftar.mobile.DaftarException
import org.daftar.mobile.Mark
import java.io.File

fun harness(command: String) {
    println("@harness $command")
    System.out.flush()
    val reply = readLine()
    check(reply == "ok") { "harness answered $reply to $command" }
}

fun ok(what: String) = println("ok - $what")

fun main() {
    val url = System.getenv("DAFTAR_SERVER_URL")
    val data = File(System.getenv("DAFTAR_DATA_DIR"), "kotlin-teacher").path
    val password = System.getenv("DAFTAR_PASSWORD")
    val today = System.getenv("DAFTAR_TODAY")

    val phone = DaftarClient(url, data)
    val user = phone.login("demo", "teacher1", password, "Kotlin smoke phone")
    check(user.role == "teacher") { "role ${user.role}" }
    ok("logged in as ${user.displayName}")
    val cls = phone.myClasses().single()
    val roster = phone.roster(cls.classId)
    check(roster.size >= 2) { "roster of ${roster.size}" }
    val codes = phone.attendanceCodes().associate { it.category to it.code }
    val present = codes.getValue("present")
    val late = codes["late"] ?: codes.getValue("absent")
    ok("${cls.name}: ${roster.size} students, codes $codes")

    harness("stop")
    try {
        phone.syncNow()
        error("sync succeeded with the server down")
    } catch (e: DaftarException.Network) {
        ok("offline: ${e.message}")
    }
    val marks = roster.mapIndexed { i, s -> Mark(s.studentId, if (i == 1) late else present) }
    phone.markRegister(cls.classId, today, marks)
    check(phone.pendingOpCount() == 1uL) { "pending ${phone.pendingOpCount()}" }
    ok("marked offline; 1 edit queued")

    harness("start")
    val report = phone.syncNow()
    check(report.applied == 1uL && report.rejected == 0uL) { "report $report" }
    check(phone.pendingOpCount() == 0uL) { "outbox not drained" }
    val back = phone.register(cls.classId, today).associate { it.studentId to it.code }
    check(back == marks.associate { it.studentId to it.code }) { "read back $back" }
    ok("synced and read back ${back.size} marks")
    phone.logout()
    println("kotlin: marked ${cls.classId} $today ${marks.size} students")
}
