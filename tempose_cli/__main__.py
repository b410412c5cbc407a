from tempose_cli.app import main

main()
