from tempose_cli.cli.app import main

main()
