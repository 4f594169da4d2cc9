package media

// PerRungCommands returns the ffmpeg commands of the per-rendition approach
// that PeerTube and MediaCMS take, one process per rendition, each decoding
// the source again, for the renditions Ladder would make of src (an
// absolute path). Each command carries exactly the arguments the ladder
// gives that rendition's encoding (ladderArgs of that one encoding): same
// encoder settings, keyframes and segmenting, so that timing them beside
// LadderCommand measures what decoding the source once saves and nothing
// else. dirs are the directories the commands need under the output
// directory, in which every command must run; the commands write disjoint
// files and may run in any order or concurrently. Benchmarks use it: reel
// itself always runs the one-pass Ladder.
func PerRungCommands(src string, info *Info, opts LadderOptions) (cmds [][]string, dirs []string) {
	p := planLadder(info, opts)
	b := boundsFor(info)
	carrier := p.audioCarrier()
	for i, e := range p.encodings {
		one := p
		one.encodings = []encoding{e}
		one.storyboard = nil
		// The audio is encoded once: by the command that writes the MP4
		// (which needs it anyway), else by the first.
		one.audio = p.audio && (i == carrier || (carrier < 0 && i == 0))
		cmds = append(cmds, ladderArgs(src, b, one))
	}
	return cmds, p.dirs()
}
