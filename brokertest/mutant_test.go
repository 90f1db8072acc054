package brokertest_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker/brokertest"
)

// A suite that passes everything proves nothing: each mutant below is the
// fake with one deliberate bug, and the suite must fail the test named for
// it. Mutants run in a child process (this test binary, re-executed), since
// a failing subtest would fail this test too.

const mutantEnv = "BROKERTEST_MUTANT"

var mutants = []struct {
	bug, kind, catches string
	says               string // in the output too, if set
}{
	{"ack-requeues", "Queue", "Queue/AckedMessageIsNotRedelivered", ""},
	{"nack-acks", "Queue", "Queue/NackedMessageIsRedelivered", ""},
	{"close-keeps-leases", "Queue", "Queue/UnsettledMessagesAreRedeliveredAfterClose", ""},
	{"no-validation", "Queue", "Queue/InvalidAttributesAreRefusedBeforeSending", ""},
	{"batch-half-sent", "Queue", "Queue/BatchWithAnInvalidMessageSendsNone", ""},
	{"masks-ctx-error", "Queue", "Queue/NextMessageReturnsPromptlyWhenItsContextEnds", ""},
	{"loses-on-cancel", "Queue", "Queue/CanceledNextMessageLosesNothing", ""},
	{"batch-loses-on-cancel", "Queue", "Queue/CanceledNextMessageLosesNothing", ""},
	{"leaks-goroutine", "Queue", "LeavesNoGoroutineBehind", ""},
	{"ignores-ctx", "Queue", "Queue/NextMessageReturnsPromptlyWhenItsContextEnds", "watchdog: test still running"},
	{"expires-at-once", "Queue", "Queue/AckDeadlineExpiryRedelivers", "well before the"},
	{"ignores-nack-delay", "Queue", "Queue/NackWithDelayIsNotRedeliveredEarly", ""},
	{"commit-rewinds", "Log", "Log/CommittedPositionNeverMovesBackwards", ""},
	{"close-keeps-partitions", "Log", "Log/RebalanceLosesNothingAndReplaysNothingCommitted", ""},
	{"stale-handover", "Log", "Log/RebalanceLosesNothingAndReplaysNothingCommitted", ""},
	{"loses-on-cancel", "Log", "Log/CanceledNextRecordSkipsNothing", ""},
	{"batch-loses-on-cancel", "Log", "Log/CanceledNextRecordSkipsNothing", ""},
	{"acks-after-revoke", "Log", "Log/RevokedPartitionsAreReportedAndRefuseAcks", ""},
	{"wrong-topic", "Log", "Log/PublishedMessageArrivesWithKeyDataAndAttributes", ""},
}

func TestSuiteFailsEveryMutant(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the suite a dozen times in child processes")
	}
	if os.Getenv(mutantEnv) != "" {
		t.Skip("inside a mutant run (its environment variable is set): the parent checks the mutants")
	}
	// Children mostly wait on timeouts, so run them all at once (t.Run from
	// goroutines; t.Parallel would cap them at GOMAXPROCS).
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, m := range mutants {
		wg.Go(func() {
			t.Run(m.kind+"/"+m.bug, func(t *testing.T) {
				// Run only the test that must catch the bug, except for the
				// leak check, which follows the whole suite.
				pattern := "^TestMutant$"
				if strings.Contains(m.catches, "/") {
					pattern += "/" + regexp.QuoteMeta(m.kind) + "/^" + regexp.QuoteMeta(strings.TrimPrefix(m.catches, m.kind+"/")) + "$"
				}
				cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
				cmd.Env = append(os.Environ(), mutantEnv+"="+m.kind+":"+m.bug)
				out, err := cmd.CombinedOutput()
				if err == nil {
					t.Fatalf("the suite passed a fake whose bug is %q", m.bug)
				}
				if !strings.Contains(string(out), "--- FAIL: TestMutant/"+m.catches+" ") {
					t.Errorf("bug %q: want %s to fail; output:\n%s", m.bug, m.catches, out)
				}
				if !strings.Contains(string(out), m.says) {
					t.Errorf("bug %q: want the output to say %q; output:\n%s", m.bug, m.says, out)
				}
			})
		})
	}
}

// Quirks are the fake with behaviour that is legal but slow, the way a
// remote broker or a loaded machine is: the suite must pass the test named,
// not mistake a late response for a bug.
var quirks = []struct{ quirk, kind, test string }{
	// NextMessage returns 100 ms (of a 150 ms ack deadline) after the lease started.
	{"late-first-delivery", "Queue", "Queue/AckDeadlineExpiryRedelivers"},
	// Settle of a delayed nack returns 300 ms (of a 500 ms delay) after it took effect.
	{"slow-nack-confirm", "Queue", "Queue/NackWithDelayIsNotRedeliveredEarly"},
}

func TestSuitePassesSlowButCorrectBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the suite in child processes")
	}
	if os.Getenv(mutantEnv) != "" {
		t.Skip("inside a mutant run (its environment variable is set): the parent checks the mutants")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, q := range quirks {
		wg.Go(func() {
			t.Run(q.quirk, func(t *testing.T) {
				pattern := "^TestMutant$/" + regexp.QuoteMeta(q.kind) + "/^" + regexp.QuoteMeta(strings.TrimPrefix(q.test, q.kind+"/")) + "$"
				cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
				cmd.Env = append(os.Environ(), mutantEnv+"="+q.kind+":quirk:"+q.quirk)
				out, err := cmd.CombinedOutput()
				if err != nil || !strings.Contains(string(out), "--- PASS: TestMutant/"+q.test+" ") {
					t.Errorf("the suite failed a correct fake whose quirk is %q (%v); output:\n%s", q.quirk, err, out)
				}
			})
		})
	}
}

// TestMutant runs one mutant when the parent test asks for it.
func TestMutant(t *testing.T) {
	kind, bug, ok := strings.Cut(os.Getenv(mutantEnv), ":")
	if !ok {
		t.Skip("only run by TestSuiteFailsEveryMutant, which sets its environment variable")
	}
	f := newFake(1 << 20)
	if quirk, ok := strings.CutPrefix(bug, "quirk:"); ok {
		f.quirk = quirk
	} else {
		f.bug = bug
	}
	// Bugs that lose messages show as timeouts: keep them short.
	opts := brokertest.Options{Timeout: 3 * time.Second}
	switch kind {
	case "Queue":
		h := fakeQueueHarness(f)
		h.Options = opts
		brokertest.RunQueueTests(t, h)
	case "Log":
		h := fakeLogHarness(f)
		h.Options = opts
		brokertest.RunLogTests(t, h)
	}
}
