py=.venv/bin/python
G=benchmarks/gap_by_dive.py
$py $G --everies 1,5,20 --fit ours:H/s27:2:27 --fit ae-stn-dec:H/s27b:1:27
$py $G --everies 1,5,20 --fit ours1:H/s26a:1:26 --fit ours19:H/s26a:19:26 --fit ae-stn-dec:H/s26a:5:26 --fit dsl-stn-dec:H/s26b:1:26 --fit dsl-stn:H/s26b:5:26 --fit ours-no-gravity:H/s26b:9:26 --fit css:H/s26b:13:26 --fit nm6:H/nm6-26:1:26
$py $G --everies 1,5,20 --fit sa1:H/sa25:1:25 --fit sa5:H/sa25:5:25 --fit ae-stn-dec:H/ae-stn-dec-25:1:25 --fit dsl-stn-dec:H/dsl-stn-dec-25:1:25
$py $G --everies 1,5,20 --fit sa1:H/sa24:1:24 --fit sa5:H/sa24:5:24
$py $G --everies 1,5,20 --fit sa1:H/sa23:1:23 --fit ts1:H/ts23:1:23 --fit ts5:H/ts23:5:23
$py $G --everies 1,5,20 --fit css:H/css21:1:21 --fit ph5:H/css21:5:21 --fit ph9:H/css21:9:21 --fit z96:H/css21:13:21 --fit p2a:H/css21:17:21 --fit p2b:H/css21:21:21
$py $G --everies 1,5,20 --fit css:H/css22:1:22 --fit ph5:H/css22:5:22 --fit ph9:H/css22:9:22 --fit z96:H/css22:13:22 --fit p2a:H/css22:17:22 --fit p2b:H/css22:21:22
